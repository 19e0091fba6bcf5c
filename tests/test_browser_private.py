"""Private mode of the video answer (Flask test client): only face emotions reach the server, never the video.

The browser side (recording, live analysis, the form sending JSON instead of the video) runs in
tests/test_app_e2e.py; here the server: what it accepts, what it refuses (one line, nothing
stored), what it stores (no video bytes anywhere), and the results page built from the emotions.
"""

from __future__ import annotations

import io
import json
import re
from types import SimpleNamespace

import numpy as np
import pytest

from mmer_utils.labels import FER2013

HAPPY = [0.01, 0.0, 0.02, 0.9, 0.03, 0.01, 0.03]
SAD = [0.05, 0.01, 0.1, 0.02, 0.7, 0.02, 0.1]


def face_doc(n=20, seconds=4.0, probs=None, **changes) -> dict:
    rows = probs or [HAPPY if k % 4 else SAD for k in range(n)]
    doc = {"format": 1, "labels": list(FER2013), "frames": n + 2, "seconds": seconds,
           "records": [{"f": k + 1, "t": round(0.2 * (k + 1), 3), "p": p, "box": [250, 170, 140, 140], "score": 0.9}
                       for k, p in enumerate(rows)]}
    doc.update(changes)
    return doc


def _fake_models():
    return SimpleNamespace(info={"shipped": True}, describe=lambda: {"face": "face emotion: VGG-style CNN on FER2013"})


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("MMER_CACHE_DIR", str(tmp_path / "cache"))
    from mmer_utils.app import create_app

    models = _fake_models()
    app = create_app({"DATABASE": tmp_path / "app.sqlite", "RECRUITER_PASSWORD": None, "TESTING": True,
                      "RESUME_JOBS": False, "MODELS_LOADER": lambda: models})
    bodies = []
    inner = app.wsgi_app

    def recording_middleware(environ, start_response):   # what reaches the server, byte for byte
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        bodies.append((environ["PATH_INFO"], body))
        environ["wsgi.input"] = io.BytesIO(body)
        return inner(environ, start_response)

    app.wsgi_app = recording_middleware
    app.received = bodies
    yield app
    app.extensions["mmer"]["runner"].shutdown()


def _consent(client) -> str:
    page = client.get("/consent").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/consent", data={"csrf_token": token, "agree": "yes", "agree_sensitive": "yes"}
                       ).status_code == 303
    return token


def _send(client, token, doc, mode="video", **extra):
    data = {"csrf_token": token, "mode": mode, "question": "leadership", "name": "Private Pat", "private": "yes",
            "face_json": doc if isinstance(doc, str) else json.dumps(doc)}
    data.update(extra)
    return client.post("/answer", data=data, content_type="multipart/form-data")


def _files(app) -> list:
    root = app.extensions["mmer"]["files"].root
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_a_private_answer_sends_no_video_and_gets_a_portrait(app):
    client = app.test_client()
    token = _consent(client)
    r = _send(client, token, face_doc())
    assert r.status_code == 303, r.text[:3000]
    link = r.headers["Location"]
    # what the server received for the answer: form fields only, no file part, no video container
    path, body = app.received[-1]
    assert path == "/answer"
    assert b"filename=" not in body and b"\x1aE\xdf\xa3" not in body and b"ftyp" not in body
    interview = link.rsplit("/", 1)[1]
    row = app.extensions["mmer"]["db"].get(interview)
    assert row["inputs"] == {"face": "face emotions from the browser, 4 s (private mode: no video)"}
    assert app.extensions["mmer"]["runner"].wait(120)
    row = app.extensions["mmer"]["db"].get(interview)
    assert row["state"] == "done", row
    s = row["summary"]
    assert s["face"]["frames_with_face"] == 20 and s["face"]["frames_analysed"] == 22
    assert max(s["face"]["shares"], key=s["face"]["shares"].get) == "happy"
    page = client.get(link).text
    assert 'id="timelines"' in page and "/figures/face_timeline.png" in page
    assert client.get(link + "/figures/face_timeline.png").status_code == 200
    assert "never the video" in page or "private mode" in page
    # nothing on the server is a video: after the analysis only the report is left
    files = _files(app)
    assert not [f for f in files if f.endswith((".webm", ".mp4", ".mkv", ".avi", ".upload"))], files
    assert not [f for f in files if "/inputs/" in f], files


@pytest.mark.parametrize("doc, message", [
    ("", "no face emotions were sent"),
    ("{not json", "not JSON"),
    (face_doc(extra=1), "expected the keys"),
    (face_doc(labels=list(reversed(FER2013))), "the labels must be"),
    (face_doc(format=2), "format 2"),
    (face_doc(seconds=500.0), "the longest answer accepted is 120 s"),
    (face_doc(seconds=0.5), "too short"),
    (face_doc(probs=[[0.5] * 7] * 3), "sum to 1"),
    (face_doc(probs=[[0.2, 0.2, 0.2, 0.2, 0.2, 0.2]] * 3), "must have 7 probabilities"),
    (json.dumps(face_doc(probs=[HAPPY[:-1] + [float("nan")]] * 3)), "finite number"),
    (face_doc(records=[{"t": 1.0, "p": HAPPY}, {"t": 0.5, "p": HAPPY}]), "out of order"),
    (face_doc(records=[{"t": 1.0, "p": HAPPY, "img": "data:..."}]), "only f, t, p, box, score"),
    (face_doc(frames=10, records=[{"t": 0.1 * k, "p": HAPPY} for k in range(11)]), "at most one per analysed frame"),
    (face_doc(records=[{"t": 1.0, "p": HAPPY, "box": [0, 0, -5, 10]}]), "positive size"),
    (face_doc(frames=100_000), "at most 30 a second"),
    (face_doc(records=[]), "No face was found in the 22 frames analysed in your browser"),
    ("x" * 400_001, "more than 400 kB"),
])
def test_a_bad_private_answer_is_one_line_and_nothing_is_stored(app, doc, message):
    client = app.test_client()
    token = _consent(client)
    r = _send(client, token, doc)
    assert r.status_code == 400
    errors = re.findall(r'<li data-field="video">([^<]*)</li>', r.text)
    assert len(errors) == 1 and message in errors[0].replace("&#39;", "'"), errors
    assert app.extensions["mmer"]["db"].count() == 0
    assert _files(app) == []


def test_private_mode_refuses_a_video_and_other_interviews(app):
    client = app.test_client()
    token = _consent(client)
    r = client.post("/answer", data={"csrf_token": token, "mode": "video", "question": "leadership", "private": "yes",
                                     "face_json": json.dumps(face_doc()),
                                     "video": (io.BytesIO(b"\x1aE\xdf\xa3" + b"\0" * 100), "v.webm")},
                    content_type="multipart/form-data")
    assert r.status_code == 400 and "Private mode sends no video" in r.text
    r = _send(client, token, face_doc(), mode="all", text="word " * 40)
    assert r.status_code == 400 and "Private mode is for the video interview only" in r.text
    assert _files(app) == []


def test_the_face_timeline_has_the_columns_of_the_server_side_one():
    from mmer_utils.app.private_face import face_timeline, parse_face_json
    from mmer_utils.labels import SHARED
    from mmer_utils.timeline import TIMELINE_COLUMNS
    from mmer_utils.video.predict import FACE_COLUMNS

    data = parse_face_json(json.dumps(face_doc()), max_seconds=60)
    tl = face_timeline(data)
    assert list(tl.columns) == list(TIMELINE_COLUMNS) + list(FACE_COLUMNS)
    assert len(tl) == 20 and tl.attrs["n_frames"] == 22
    assert np.allclose(tl[list(SHARED)].sum(axis=1), 1.0)
    assert tl["emotion"].value_counts().idxmax() == "happy"
