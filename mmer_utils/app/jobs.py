"""The background analysis: one worker thread per process, the models loaded once, the files of each interview.

Files of interview ``TOKEN`` (all under one folder, so that deleting it deletes everything)::

    <files>/TOKEN/inputs/answer.txt          the typed or uploaded text
    <files>/TOKEN/inputs/voice.wav           the voice, 16 kHz mono (decoded at submission)
    <files>/TOKEN/inputs/video.mp4           the video, constant frame rate (decoded at submission)
    <files>/TOKEN/inputs/recording-*.EXT     the recordings as sent (kept only if the candidate asks)
    <files>/TOKEN/report/                    report.html, portrait.json, figures/*.png, timelines CSV

:class:`JobRunner` owns a :class:`~concurrent.futures.ThreadPoolExecutor` with **one** worker
thread: analyses run one after the other (the machine's cores go to the models, and the
models are shared, not copied per job). A job's state is in the app's database
(:mod:`mmer_utils.app.db`), so a page reload, a second tab or a restarted server sees it; at
start, jobs left queued or running by a previous process are queued again.

The models are loaded lazily by the first job, once per process (:func:`shared_models`),
and shared by every app of the process.

A job that fails leaves nothing but its row (state ``failed`` and the one-line reason):
its inputs and any partial report are removed, and its scores are never added to the store.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import numpy as np

from ..errors import MmerError
from .db import AppDB
from .media import InputError

log = logging.getLogger(__name__)

_MODELS: dict = {}
_MODELS_LOCK = threading.Lock()

#: The message of a job that failed for a reason that is not the candidate's input.
INTERNAL_ERROR = ("The analysis failed because of an error on the server; nothing was stored. "
                  "Try again, and tell the organiser if it happens again.")


def shared_models(key, loader):
    """The models of ``key``, loaded once per process by ``loader()`` (other callers wait for it)."""
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = loader()
        return _MODELS[key]


def default_loader(models_dir=None):
    """Load the shipped models (``models_dir=None``) or a bundle trained by ``python -m mmer_utils.portrait train``."""
    def load():
        from .. import config
        from ..portrait import load_models

        config.import_tensorflow_quietly()
        return load_models(models_dir)
    return load


class Files:
    """Where the files of each interview live (see the module's docstring)."""

    def __init__(self, root):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def folder(self, token: str) -> Path:
        return self.root / token

    def inputs(self, token: str) -> Path:
        return self.folder(token) / "inputs"

    def report(self, token: str) -> Path:
        return self.folder(token) / "report"

    def incoming(self) -> Path:
        """A fresh private folder for a submission being checked (renamed to the interview's once accepted)."""
        return Path(tempfile.mkdtemp(prefix=".incoming-", dir=self.root))

    def remove(self, token: str) -> None:
        shutil.rmtree(self.folder(token), ignore_errors=True)

    def recordings(self, token: str) -> list[Path]:
        folder = self.inputs(token)
        return sorted(folder.glob("recording-*")) if folder.is_dir() else []


def _finite(obj):
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    return obj


def summarise(portrait, figures: list[str]) -> dict:
    """What the results pages show: the portrait's JSON summary plus a few counts (strict JSON: no NaN)."""
    from ..timeline import SILENCE

    out = portrait.to_dict()
    out["figures"] = sorted(figures)
    if portrait.voice_timeline is not None:
        tl = portrait.voice_timeline
        out["voice"] = {"windows": int(len(tl)), "speech_windows": int((tl["emotion"] != SILENCE).sum()),
                        "seconds": float(tl["end"].max()) if len(tl) else 0.0,
                        "shares": tl.loc[tl["emotion"] != SILENCE, "emotion"].value_counts(normalize=True)
                        .round(3).to_dict()}
    if portrait.face_timeline is not None:
        tl = portrait.face_timeline
        out["face"] = {"frames_analysed": int(portrait.face_frames or len(tl)), "frames_with_face": int(len(tl)),
                       "shares": tl["emotion"].value_counts(normalize=True).round(3).to_dict() if len(tl) else {}}
    if portrait.shared is not None and not portrait.shared.empty:
        out["shared"] = portrait.shared.round(4).to_dict(orient="index")
    return json.loads(json.dumps(_finite(out), default=str, allow_nan=False))


class JobRunner:
    """Runs the analyses of one app in a background thread (see the module's docstring)."""

    def __init__(self, db: AppDB, files: Files, scores_path, *, models_key, models_loader, face_every: int = 2,
                 logger=None):
        self.db, self.files, self.scores_path = db, files, Path(scores_path)
        self.models_key, self.models_loader = models_key, models_loader
        self.face_every = int(face_every)
        self.log = logger or log
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mmer-analysis")
        self._futures: dict = {}
        self._lock = threading.Lock()

    # -- the store of scores (percentiles among earlier candidates)
    def store(self):
        from ..portrait import CandidateStore

        return CandidateStore(self.scores_path)

    def submit(self, token: str):
        future = self.executor.submit(self._run, token)
        with self._lock:
            self._futures = {t: f for t, f in self._futures.items() if not f.done()}
            self._futures[token] = future
        return future

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for every submitted job (tests and shutdown); True when none is left running."""
        with self._lock:
            futures = list(self._futures.values())
        done, pending = wait(futures, timeout=timeout)
        return not pending

    def shutdown(self) -> None:
        """Stop taking jobs; queued ones stay queued in the database and resume at the next start."""
        self.executor.shutdown(wait=False, cancel_futures=True)

    def resume(self) -> int:
        """Queue again the jobs a previous process left queued or running; return how many."""
        n = 0
        for row in self.db.unfinished():
            if self.db.set_state(row["token"], "queued", step="waiting for the worker (the server restarted)"):
                self.submit(row["token"])
                n += 1
        return n

    def delete(self, token: str) -> bool:
        """Delete an interview and everything derived from it: row, scores, inputs, report."""
        row = self.db.delete(token)
        self.files.remove(token)
        if row is None:
            return False
        if row.get("score_id") is not None:
            self.store().remove(row["score_id"])
        # a job still running finds its row gone when it finishes and removes what it made
        return True

    def purge_expired(self) -> int:
        """Delete the interviews past their retention date; return how many."""
        tokens = self.db.expired()
        for token in tokens:
            self.delete(token)
        if tokens:
            self.log.info("deleted %d interviews past their retention date", len(tokens))
        return len(tokens)

    # -- the job
    def _run(self, token: str) -> None:
        step = ("analysing your answer" if self.models_key in _MODELS
                else "loading the models (the first analysis after a start takes longer)")
        if not self.db.claim(token, step=step):   # deleted, or already taken
            return
        row = self.db.get(token)
        if row is None:
            return
        try:
            self._analyse(token, row)
        except InputError as exc:
            self._fail(token, str(exc))
        except MmerError as exc:
            self._fail(token, self._clean(token, str(exc)))
        except Exception:  # noqa: BLE001 - the candidate sees a short message, the log the traceback
            self.log.exception("analysis of interview %s failed", token[:6])
            self._fail(token, INTERNAL_ERROR)

    def _clean(self, token: str, message: str) -> str:
        """A model's error message without the server's paths."""
        for path in (self.files.inputs(token), self.files.folder(token)):
            message = message.replace(str(path) + "/", "").replace(str(path), "your answer")
        return message

    def _portrait(self, token: str, models, *, text, audio, video, name):
        """The portrait of the answer; any bad input refuses the whole answer (one sentence per bad input).

        The portrait keeps the good inputs beside a bad one (and says why it left it out); the
        app asks for the answer again instead, so that nothing half-analysed is stored.
        """
        from ..portrait import PortraitInputError, build_portrait

        try:
            portrait = build_portrait(models, text=text, audio=None if audio is None else str(audio),
                                      video=None if video is None else str(video), name=name,
                                      face_every=self.face_every)
            problems = portrait.problems
        except PortraitInputError as exc:
            if not exc.problems:
                raise
            problems = exc.problems
        if problems:
            raise InputError(" ".join(self._explain(token, key, reason) for key, reason in problems.items()))
        return portrait

    def _explain(self, token: str, key: str, reason: str) -> str:
        """What the candidate reads about a bad input (the portrait's reason, without the server's paths)."""
        if key == "video" and "no face was found" in reason:
            frames = re.search(r"in the (\d+) frames", reason)
            seen = f" ({frames.group(1)} frames analysed)" if frames else ""
            return (f"No face was found in the video{seen}: record again facing the camera, with light on your "
                    "face and nothing covering it.")
        if key == "audio" and ("near silence" in reason or "silent" in reason):
            return ("No speech was heard in the voice recording (only near-silence): speak closer to the "
                    "microphone and record again.")
        what = {"text": "Text", "audio": "Voice", "video": "Video"}.get(key, key)
        return f"{what}: {self._clean(token, reason)}."

    def _fail(self, token: str, message: str) -> None:
        """Nothing half-stored: the inputs and any partial report go, the row keeps the reason only."""
        self.files.remove(token)
        self.db.set_state(token, "failed", message=message)

    def _analyse(self, token: str, row: dict) -> None:
        from ..portrait import build_portrait, compare, write_report

        inputs, folder = row["inputs"], self.files.inputs(token)
        text = audio = video = None
        if inputs.get("text"):
            text = folder / "answer.txt"
        if inputs.get("audio"):
            audio = folder / "voice.wav"
        if inputs.get("video"):
            video = folder / "video.mp4"
        for path in (text, audio, video):
            if path is not None and not path.is_file():
                raise InputError("The answer's files are gone (the server was restarted while it was being "
                                 "saved): answer again.")
        models = shared_models(self.models_key, self.models_loader)
        self.db.set_state(token, "running", step="analysing your answer")
        text = None if text is None else text.read_text(encoding="utf-8")
        if inputs.get("face"):   # private mode: the face emotions computed in the browser, no video (private_face)
            from .private_face import FILE_NAME, build_private_portrait

            portrait = build_private_portrait(models, folder / FILE_NAME, name=row["name"])
        else:
            portrait = self._portrait(token, models, text=text, audio=audio, video=video, name=row["name"])
        self.db.set_state(token, "running", step="comparing with the other candidates and writing the report")
        report = self.files.report(token)
        tmp = report.with_name(".report-tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        store = self.store()
        compare(portrait, store)
        write_report(portrait, tmp)
        tmp.rename(report)
        figures = [p.stem for p in (report / "figures").glob("*.png")]
        summary = summarise(portrait, figures)
        score_id = store.add_portrait(portrait)
        try:
            finished = self.db.finish(token, score_id=score_id, summary=summary)
        except BaseException:
            store.remove(score_id)
            raise
        if not finished:  # deleted while it ran: remove what was made
            store.remove(score_id)
            self.files.remove(token)
            return
        if not row["keep_recordings"]:
            shutil.rmtree(folder, ignore_errors=True)
        else:  # keep only the recordings as sent and the text, not the decoded copies
            for name in ("voice.wav", "video.mp4"):
                (folder / name).unlink(missing_ok=True)
