"""The interview simulator: a small Flask app around the candidate portrait.

A candidate reads what is recorded and inferred and agrees (consent page), picks an
interview (text, voice, video or all three) and a question from the bank
(``questions.json``), answers (typed text or a TXT/PDF file; voice and video recorded in
the browser or uploaded), waits on a progress page while a background worker analyses the
answer, then reads the portrait (:mod:`mmer_utils.portrait`) at a private, unguessable link,
downloads it, and may delete everything. A recruiter (password given when the app starts)
lists the candidates, filters them and compares two side by side.

Start it::

    python -m mmer_utils.app                      # http://127.0.0.1:8000/
    MMER_RECRUITER_PASSWORD=... python -m mmer_utils.app --port 8000 --db /tmp/class.sqlite

Or from Python (tests, a WSGI server: ``gunicorn "mmer_utils.app:create_app()"``)::

    app = create_app({"DATABASE": "/tmp/app.sqlite", "RECRUITER_PASSWORD": "..."})

Modules: :mod:`.db` (the interviews' SQLite database and job states), :mod:`.jobs` (the
worker, the shared models, the files of each interview), :mod:`.media` (uploads and
recordings decoded and checked), :mod:`.security` (CSRF tokens, recruiter login, headers),
:mod:`.candidate` and :mod:`.recruiter` (the blueprints).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path

from ..errors import MmerError

__all__ = ["create_app", "load_questions", "AppConfigError", "MODES"]

HERE = Path(__file__).resolve().parent
#: The question bank shipped with the app.
QUESTIONS_FILE = HERE / "questions.json"
#: Environment variables read by :func:`create_app` when the config does not say.
PASSWORD_ENV = "MMER_RECRUITER_PASSWORD"
SECRET_ENV = "MMER_APP_SECRET_KEY"

#: The interviews a candidate can choose: what each one asks for.
MODES = {
    "text": {"title": "Written answer", "inputs": ("text",), "about": "You type your answer (or upload a TXT or PDF)."},
    "voice": {"title": "Voice answer", "inputs": ("audio",), "about": "You answer out loud; the microphone records."},
    "video": {"title": "Video answer", "inputs": ("video",),
              "about": "You answer facing the camera; only your face is analysed (no sound is recorded)."},
    "all": {"title": "All three", "inputs": ("text", "audio", "video"),
            "about": "You type a short answer, then answer on camera with sound: text, voice and face are analysed."},
}

DEFAULTS = {
    "DATABASE": None,            # default: <cache>/app/app.sqlite
    "FILES_DIR": None,           # default: <db folder>/<db name>-files
    "SCORES_DATABASE": None,     # default: <db folder>/<db name>-scores.sqlite
    "QUESTIONS_FILE": None,      # default: the bank shipped with the app
    "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
    "MAX_RECORDING_SECONDS": 120,
    "MIN_RECORDING_SECONDS": 2.0,
    "MIN_WORDS": 20,
    "MAX_TEXT_CHARS": 20_000,
    "RETENTION_DAYS": 30,
    "VIDEO_FPS": 10,
    "VIDEO_MAX_SIDE": 640,
    "FACE_EVERY": 2,
    "BROWSER_FACE": True,        # live face overlay and private mode, when the vendored runtime is there
    "BROWSER_FACE_MAX_SIDE": 320,   # the browser detects faces on a copy this size (4x faster than 640; docs/browser.md)
    "MAX_FACE_JSON_BYTES": 400_000,   # private mode: the browser's face emotions (JSON; Werkzeug keeps form fields under 500 kB)
    "MODELS_DIR": None,          # default: the models shipped with the course
    "MODELS_LOADER": None,       # a callable returning PortraitModels (tests); overrides MODELS_DIR
    "RESUME_JOBS": True,
    "LOGIN_ATTEMPTS": 5,         # failed recruiter logins per address per LOGIN_WINDOW seconds
    "LOGIN_WINDOW": 60,
    "SESSION_COOKIE_NAME": "mmer_session",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,   # True behind HTTPS
    "PERMANENT_SESSION_LIFETIME": timedelta(hours=8),
}


class AppConfigError(MmerError, ValueError):
    """The app cannot start with this configuration (bad question bank, unreadable password file...)."""


def load_questions(path=None) -> list[dict]:
    """The question bank: a list of ``{"id", "text", "hint"}``, checked (unique ids, non-empty text)."""
    path = Path(path or QUESTIONS_FILE)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AppConfigError(f"cannot read the question bank {path}: {exc}") from None
    questions = data.get("questions") if isinstance(data, dict) else data
    if not isinstance(questions, list) or not questions:
        raise AppConfigError(f"the question bank {path} has no questions (expected {{\"questions\": [...]}})")
    seen = set()
    for q in questions:
        if not isinstance(q, dict) or not str(q.get("id", "")).strip() or not str(q.get("text", "")).strip():
            raise AppConfigError(f"the question bank {path} has a question without an id or a text: {q!r}")
        if not str(q["id"]).replace("-", "").replace("_", "").isalnum():
            raise AppConfigError(f"question id {q['id']!r} in {path}: use letters, digits, - and _ only")
        if q["id"] in seen:
            raise AppConfigError(f"the question bank {path} has the id {q['id']!r} twice")
        seen.add(q["id"])
        q.setdefault("hint", "")
    return questions


def _paths(config: dict) -> None:
    from .. import config as mmer_config

    db = Path(config["DATABASE"] or mmer_config.cache_dir("app") / "app.sqlite").expanduser().resolve()
    config["DATABASE"] = db
    config["FILES_DIR"] = Path(config["FILES_DIR"] or db.parent / f"{db.stem}-files").expanduser().resolve()
    config["SCORES_DATABASE"] = Path(config["SCORES_DATABASE"]
                                     or db.parent / f"{db.stem}-scores.sqlite").expanduser().resolve()


def create_app(config: dict | None = None):
    """The Flask app (application factory). ``config`` overrides :data:`DEFAULTS` and Flask's keys.

    Recruiter password: ``RECRUITER_PASSWORD`` (plain, hashed at once and dropped) or
    ``RECRUITER_PASSWORD_HASH`` (werkzeug.security); when neither key is given, the
    ``MMER_RECRUITER_PASSWORD`` environment variable. No password: the recruiter view is disabled.
    """
    from flask import Flask
    from werkzeug.security import generate_password_hash

    from . import candidate, recruiter, security
    from .db import AppDB
    from .jobs import Files, JobRunner, default_loader

    config = dict(config or {})
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(DEFAULTS)
    password_given = "RECRUITER_PASSWORD" in config or "RECRUITER_PASSWORD_HASH" in config
    password = config.pop("RECRUITER_PASSWORD", None)
    app.config.update(config)
    if password:
        app.config["RECRUITER_PASSWORD_HASH"] = generate_password_hash(password)
    elif not password_given and os.environ.get(PASSWORD_ENV):
        app.config["RECRUITER_PASSWORD_HASH"] = generate_password_hash(os.environ[PASSWORD_ENV])
    app.config.setdefault("RECRUITER_PASSWORD_HASH", None)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = os.environ.get(SECRET_ENV) or secrets.token_hex(32)
    _paths(app.config)
    app.jinja_env.autoescape = True   # every template, whatever its name
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True
    from .present import fmt, portrait_view

    app.jinja_env.globals["portrait_view"] = portrait_view
    app.jinja_env.filters["num"] = fmt

    questions = load_questions(app.config["QUESTIONS_FILE"])
    db = AppDB(app.config["DATABASE"])
    files = Files(app.config["FILES_DIR"])
    loader = app.config["MODELS_LOADER"]
    key = ("loader", id(loader)) if loader is not None else ("dir", str(app.config["MODELS_DIR"]))
    runner = JobRunner(db, files, app.config["SCORES_DATABASE"], models_key=key,
                       models_loader=loader or default_loader(app.config["MODELS_DIR"]),
                       face_every=app.config["FACE_EVERY"], logger=app.logger)
    runner.store()   # creates (or checks) the scores' database now: a bad --db fails at start, not at the first job
    app.extensions["mmer"] = {"db": db, "files": files, "runner": runner, "questions": questions,
                              "questions_by_id": {q["id"]: q for q in questions}, "login_failures": {}}

    security.init_app(app)
    app.register_blueprint(candidate.bp)
    app.register_blueprint(recruiter.bp)
    from . import inbrowser

    inbrowser.init_app(app)   # the face models in the browser: live overlay, private mode
    runner.purge_expired()
    if app.config["RESUME_JOBS"]:
        resumed = runner.resume()
        if resumed:
            app.logger.info("queued again %d unfinished analyses", resumed)
    logging.getLogger("mmer_utils.app").setLevel(logging.INFO)
    return app
