"""The candidate's pages: consent, choice of interview, answer, progress, results, download, deletion.

A candidate's results are reached only through their private link ``/r/TOKEN`` (TOKEN =
``secrets.token_urlsafe(24)``: 192 random bits); nothing lists them, and a wrong token is a 404.
"""

from __future__ import annotations

import io
import re
import secrets
import shutil
import zipfile

from flask import (Blueprint, abort, current_app, jsonify, redirect, render_template, request, send_file, session,
                   url_for)

from . import MODES, private_face
from .db import now
from .media import InputError, check_text, decode_audio, decode_video, describe_content, text_from_upload

bp = Blueprint("candidate", __name__)

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
FIGURE_RE = re.compile(r"^[a-z_]{1,40}$")
#: File endings of kept recordings, by what their content is.
_EXTENSIONS = {"a WebM/Matroska recording": ".webm", "an Ogg recording": ".ogg", "a FLAC recording": ".flac",
               "an MP3 recording": ".mp3", "a WAV recording": ".wav", "an AVI video": ".avi",
               "an MP4/MOV/M4A file": ".mp4"}


def _ext():
    return current_app.extensions["mmer"]


def _interview(token: str, *, done: bool = False) -> dict:
    """The interview of a private link, or 404."""
    if not TOKEN_RE.match(token or ""):
        abort(404)
    row = _ext()["db"].get(token)
    if row is None or (done and row["state"] != "done"):
        abort(404)
    return row


def _question(qid: str | None) -> dict | None:
    return _ext()["questions_by_id"].get(qid or "")


def _consented() -> bool:
    return bool(session.get("consent"))


# --------------------------------------------------------------------------- pages before the answer


@bp.get("/")
def index():
    return render_template("index.html", modes=MODES)


@bp.route("/consent", methods=["GET", "POST"])
def consent():
    error = None
    if request.method == "POST":
        if request.form.get("agree") == "yes" and request.form.get("agree_sensitive") == "yes":
            session["consent"] = now().isoformat()
            return redirect(url_for(".choose"), code=303)
        error = "Tick both boxes to go on, or simply leave this page: nothing has been recorded."
    return render_template("consent.html", error=error), (400 if error else 200)


@bp.post("/consent/withdraw")
def withdraw():
    session.pop("consent", None)
    return redirect(url_for(".index"), code=303)


@bp.get("/interview")
def choose():
    if not _consented():
        return redirect(url_for(".consent"))
    return render_template("choose.html", modes=MODES, questions=_ext()["questions"])


@bp.get("/answer")
def answer():
    if not _consented():
        return redirect(url_for(".consent"))
    mode, question = request.args.get("mode"), _question(request.args.get("question"))
    if mode not in MODES or question is None:
        return render_template("choose.html", modes=MODES, questions=_ext()["questions"],
                               error="Choose a kind of interview and a question."), 400
    return render_template("answer.html", mode=mode, spec=MODES[mode], question=question, errors={}, form={})


# --------------------------------------------------------------------------- the submission


def _upload(field: str):
    """The uploaded file of ``field``, or None when the form sent none (an empty file part)."""
    f = request.files.get(field)
    if f is None:
        return None
    if not f.filename:   # a browser sends an empty part when no file was chosen
        first = f.stream.read(1)
        f.stream.seek(0)
        if not first:
            return None
    return f


def _save(upload, folder, stem: str):
    """Save an upload under a name of ours (its ending chosen by its content, never by the sender)."""
    tmp = folder / f"{stem}.upload"
    upload.save(tmp)
    with tmp.open("rb") as fh:
        kind = describe_content(fh.read(16))
    path = folder / f"{stem}{_EXTENSIONS.get(kind, '.bin')}"
    tmp.rename(path)
    return path


@bp.post("/answer")
def submit():
    if not _consented():
        return redirect(url_for(".consent"), code=303)
    ext, cfg = _ext(), current_app.config
    mode, question = request.form.get("mode"), _question(request.form.get("question"))
    if mode not in MODES or question is None:
        abort(400, description="This answer does not say which interview it belongs to: choose one again.")
    need = MODES[mode]["inputs"]
    name = re.sub(r"[\x00-\x1f\x7f]", "", request.form.get("name") or "").strip()[:80] or "anonymous"
    keep = request.form.get("keep_recordings") == "yes"
    limits = {"max_seconds": float(cfg["MAX_RECORDING_SECONDS"]), "min_seconds": float(cfg["MIN_RECORDING_SECONDS"])}
    errors, inputs = {}, {}
    ext["runner"].purge_expired()
    folder = ext["files"].incoming()
    try:
        if "text" in need:
            typed, upload = request.form.get("text") or "", _upload("text_file")
            try:
                if typed.strip() and upload is not None:
                    raise InputError("Type the answer or upload a file, not both.")
                if upload is not None:
                    text = text_from_upload(upload.read(), upload.filename, min_words=cfg["MIN_WORDS"],
                                            max_chars=cfg["MAX_TEXT_CHARS"])
                    inputs["text"] = "uploaded file"
                else:
                    text = check_text(typed, min_words=cfg["MIN_WORDS"], max_chars=cfg["MAX_TEXT_CHARS"])
                    inputs["text"] = "typed text"
                (folder / "answer.txt").write_text(text, encoding="utf-8")
            except InputError as exc:
                errors["text"] = str(exc)
        video_ok = False
        if "video" in need and request.form.get("private") == "yes":   # private mode: no video, only face emotions
            try:
                inputs["face"] = private_face.accept(request.form.get("face_json"), video_upload=_upload("video"),
                                                     mode=mode, folder=folder, config=cfg)
            except InputError as exc:
                errors["video"] = str(exc)
        elif "video" in need:
            upload = _upload("video")
            if upload is None:
                errors["video"] = "No video: record your answer with the camera, or upload a video file."
            else:
                try:
                    original = _save(upload, folder, "recording-video")
                    info = decode_video(original, folder / "video.mp4", name=upload.filename, fps=cfg["VIDEO_FPS"],
                                        max_side=cfg["VIDEO_MAX_SIDE"], **limits)
                    inputs["video"] = f"video, {info['seconds']:.0f} s"
                    video_ok = True
                except InputError as exc:
                    errors["video"] = str(exc)
        if "audio" in need:
            upload = _upload("audio")
            try:
                if upload is not None:
                    original = _save(upload, folder, "recording-voice")
                    seconds = decode_audio(original, folder / "voice.wav", name=upload.filename, **limits)
                    inputs["audio"] = f"voice, {seconds:.0f} s"
                elif "video" in need:   # all three: the voice is the sound of the video
                    if video_ok:
                        original = next(folder.glob("recording-video.*"))
                        seconds = decode_audio(original, folder / "voice.wav", name=request.files["video"].filename,
                                               what="sound of the video recording", **limits)
                        inputs["audio"] = f"sound of the video, {seconds:.0f} s"
                else:
                    raise InputError("No voice recording: record your answer with the microphone, or upload an "
                                     "audio file.")
            except InputError as exc:
                errors["audio"] = str(exc)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if errors:
        shutil.rmtree(folder, ignore_errors=True)
        form = {"name": request.form.get("name", ""), "text": request.form.get("text", ""), "keep": keep}
        return render_template("answer.html", mode=mode, spec=MODES[mode], question=question, errors=errors,
                               form=form), 400

    token = secrets.token_urlsafe(24)
    files = ext["files"]
    try:
        files.folder(token).mkdir()
        folder.rename(files.inputs(token))
        ext["db"].create(token=token, name=name, question_id=question["id"], question=question["text"], mode=mode,
                         inputs=inputs, keep_recordings=keep, retention_days=float(cfg["RETENTION_DAYS"]),
                         consent=str(session.get("consent")))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        files.remove(token)
        raise
    ext["runner"].submit(token)
    return redirect(url_for(".results", token=token), code=303)


# --------------------------------------------------------------------------- after the answer


def _status(row: dict) -> dict:
    out = {"state": row["state"], "step": row["step"], "message": row["message"]}
    if row["state"] == "queued":
        out["position"] = _ext()["db"].queue_position(row["token"])
    return out


@bp.get("/r/<token>")
def results(token):
    row = _interview(token)
    if row["state"] in ("queued", "running"):
        return render_template("progress.html", row=row, status=_status(row))
    if row["state"] == "failed":
        return render_template("failed.html", row=row)
    files = _ext()["files"]
    recordings = [p.name for p in files.recordings(token)]
    return render_template("results.html", row=row, s=row["summary"], recordings=recordings,
                           figure_url=lambda name: url_for(".figure", token=token, name=name))


@bp.get("/r/<token>/status")
def status(token):
    row = _interview(token)
    return jsonify(_status(row))


@bp.get("/r/<token>/figures/<name>.png")
def figure(token, name):
    _interview(token, done=True)
    return send_figure(_ext()["files"].report(token), name)


def send_figure(report, name):
    if not FIGURE_RE.match(name):
        abort(404)
    path = report / "figures" / f"{name}.png"
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype="image/png", max_age=0)


@bp.get("/r/<token>/report.html")
def report_html(token):
    _interview(token, done=True)
    path = _ext()["files"].report(token) / "report.html"
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype="text/html", as_attachment=True, download_name="interview-portrait.html")


@bp.get("/r/<token>/report.zip")
def report_zip(token):
    _interview(token, done=True)
    report = _ext()["files"].report(token)
    if not report.is_dir():
        abort(404)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(report.rglob("*")):
            if path.is_file():
                zf.write(path, f"interview-portrait/{path.relative_to(report).as_posix()}")
    buffer.seek(0)
    return send_file(buffer, mimetype="application/zip", as_attachment=True, download_name="interview-portrait.zip")


@bp.get("/r/<token>/recordings/<name>")
def recording(token, name):
    _interview(token, done=True)
    found = {p.name: p for p in _ext()["files"].recordings(token)}
    if name not in found:
        abort(404)
    return send_file(found[name], mimetype="application/octet-stream", as_attachment=True, download_name=name)


@bp.route("/r/<token>/delete", methods=["GET", "POST"])
def delete(token):
    row = _interview(token)
    if request.method == "GET":
        return render_template("delete.html", row=row)
    _ext()["runner"].delete(token)
    return redirect(url_for(".deleted"), code=303)


@bp.get("/deleted")
def deleted():
    return render_template("deleted.html")
