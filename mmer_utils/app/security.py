"""Security of the app: CSRF tokens, the recruiter's login, response headers, error pages.

* **CSRF**: every session carries a random token (``secrets.token_urlsafe``); every form
  has it in a hidden ``csrf_token`` field, and every POST without the session's token is
  refused (400) before its view runs.
* **Recruiter**: the password given at start is kept only as a werkzeug.security hash;
  a successful login clears the session (no fixation) and marks it with a fingerprint of
  that hash (a new password logs everyone out); failed logins are limited per address.
  Without a password the recruiter view is disabled.
* **Headers**: a Content-Security-Policy allowing this site's scripts and styles only (no
  inline script, no CDN), ``X-Frame-Options: DENY``, ``nosniff``, ``Referrer-Policy:
  no-referrer`` (a candidate's private link never leaks in a Referer), ``no-store`` caching of
  every page that shows an interview.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from functools import wraps

from flask import current_app, redirect, render_template, request, session, url_for
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")


class CSRFError(BadRequest):
    description = ("This form expired or was not sent from this site (its security token is missing or wrong): "
                   "go back, reload the page and send it again.")


def csrf_token() -> str:
    """The session's CSRF token (made on first use)."""
    token = session.get("_csrf")
    if not token:
        token = session["_csrf"] = secrets.token_urlsafe(32)
    return token


def _check_csrf() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    expected = session.get("_csrf") or ""
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CSRFError()


def password_fingerprint() -> str:
    digest = current_app.config.get("RECRUITER_PASSWORD_HASH") or ""
    return hashlib.sha256(digest.encode()).hexdigest()[:16]


def recruiter_enabled() -> bool:
    return bool(current_app.config.get("RECRUITER_PASSWORD_HASH"))


def is_recruiter() -> bool:
    return recruiter_enabled() and session.get("recruiter") == password_fingerprint()


def recruiter_required(view):
    """The view for a logged-in recruiter; the disabled page without a password, the login page otherwise."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        if not recruiter_enabled():
            return render_template("recruiter/disabled.html"), 403
        if not is_recruiter():
            return redirect(url_for("recruiter.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)
    return wrapped


def login_allowed(address: str) -> bool:
    """False while ``address`` has had too many failed logins recently."""
    failures = current_app.extensions["mmer"]["login_failures"]
    window = float(current_app.config["LOGIN_WINDOW"])
    recent = [t for t in failures.get(address, []) if time.monotonic() - t < window]
    failures[address] = recent
    return len(recent) < int(current_app.config["LOGIN_ATTEMPTS"])


def login_failed(address: str) -> None:
    current_app.extensions["mmer"]["login_failures"].setdefault(address, []).append(time.monotonic())


def log_in() -> None:
    session.clear()
    session["recruiter"] = password_fingerprint()
    session.permanent = True
    csrf_token()


def _headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Permissions-Policy", "camera=(self), microphone=(self), geolocation=()")
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def _error_page(exc: HTTPException):
    code = exc.code or 500
    titles = {400: "This request cannot be used", 403: "Not allowed", 404: "Page not found",
              405: "Method not allowed", 413: "The upload is too large", 429: "Too many attempts"}
    message = exc.description
    if isinstance(exc, RequestEntityTooLarge):
        limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
        message = (f"The files you sent are larger than {limit / 1048576:.1f} MB, the limit of this server: record "
                   f"a shorter answer (at most {current_app.config['MAX_RECORDING_SECONDS']:g} s) or send a "
                   "smaller file. Nothing was stored.")
    elif code == 404:
        message = ("There is nothing here. If you followed the private link of your results, they may have been "
                   "deleted (by you, or after the retention period).")
    return render_template("error.html", code=code, title=titles.get(code, "Error"), message=message), code


def init_app(app) -> None:
    app.before_request(_check_csrf)
    app.after_request(_headers)
    app.register_error_handler(HTTPException, _error_page)

    @app.context_processor
    def _context():
        return {"csrf_token": csrf_token, "recruiter_enabled": recruiter_enabled(), "is_recruiter": is_recruiter()}

    @app.errorhandler(500)
    def _internal(exc):  # pragma: no cover - shown on a bug only
        return render_template("error.html", code=500, title="Server error",
                               message="Something went wrong on the server; nothing was stored."), 500


__all__ = ["CSRFError", "csrf_token", "is_recruiter", "log_in", "login_allowed", "login_failed",
           "recruiter_enabled", "recruiter_required"]
