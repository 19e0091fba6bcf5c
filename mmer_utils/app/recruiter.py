"""The recruiter's pages: login, the candidates with results (filtered), one candidate, two side by side.

Every page needs the password given when the app started (see :mod:`mmer_utils.app.security`);
without one, the whole view is disabled and says how to enable it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from werkzeug.security import check_password_hash

from . import MODES
from .candidate import send_figure
from .security import log_in, login_allowed, login_failed, recruiter_enabled, recruiter_required

bp = Blueprint("recruiter", __name__, url_prefix="/recruiter")

TRAITS = ("extraversion", "neuroticism", "agreeableness", "conscientiousness", "openness")


def _ext():
    return current_app.extensions["mmer"]


def _safe_next(target: str | None) -> str:
    """Where to go after the login: a path of the recruiter view only (no open redirect)."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and parts.path.startswith("/recruiter/") \
                and not target.startswith("//") and "\\" not in target:
            return target
    return url_for(".candidates")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if not recruiter_enabled():
        return render_template("recruiter/disabled.html"), 403
    error, status = None, 200
    if request.method == "POST":
        address = request.remote_addr or "?"
        if not login_allowed(address):
            error, status = "Too many failed attempts: wait a minute, then try again.", 429
        elif check_password_hash(current_app.config["RECRUITER_PASSWORD_HASH"], request.form.get("password", "")):
            log_in()
            return redirect(_safe_next(request.form.get("next")), code=303)
        else:
            login_failed(address)
            error, status = "Wrong password.", 401
    return render_template("recruiter/login.html", error=error, next=request.values.get("next", "")), status


@bp.post("/logout")
def logout():
    from flask import session

    session.clear()
    return redirect(url_for("candidate.index"), code=303)


@bp.get("/")
@recruiter_required
def candidates():
    filters = {k: (request.args.get(k) or "").strip()[:80] for k in ("name", "mode", "trait", "emotion", "question")}
    rows = _ext()["db"].done(**filters)
    emotions = sorted({r["top_emotion"] for r in _ext()["db"].done() if r["top_emotion"]})
    return render_template("recruiter/list.html", rows=rows, filters=filters, modes=MODES, traits=TRAITS,
                           emotions=emotions, questions=_ext()["questions"], total=_ext()["db"].count())


def _done(interview_id: int) -> dict:
    row = _ext()["db"].get_id(interview_id)
    if row is None or row["state"] != "done":
        abort(404)
    return row


@bp.get("/candidates/<int:interview_id>")
@recruiter_required
def candidate(interview_id):
    row = _done(interview_id)
    return render_template("recruiter/detail.html", row=row, s=row["summary"],
                           figure_url=lambda name: url_for(".figure", interview_id=interview_id, name=name))


@bp.get("/candidates/<int:interview_id>/figures/<name>.png")
@recruiter_required
def figure(interview_id, name):
    row = _done(interview_id)
    return send_figure(_ext()["files"].report(row["token"]), name)


@bp.get("/compare")
@recruiter_required
def compare():
    try:
        ids = [int(i) for i in request.args.getlist("ids")]
    except ValueError:
        ids = []
    if len(ids) != 2 or ids[0] == ids[1]:
        return render_template("error.html", code=400, title="Choose two candidates",
                               message="Tick exactly two different candidates in the list to compare them."), 400
    rows = [_done(i) for i in ids]
    return render_template("recruiter/compare.html", rows=rows, traits=TRAITS,
                           figure_url=lambda row, name: url_for(".figure", interview_id=row["id"], name=name))
