"""The interview simulator (mmer_utils.app) through Flask's test client.

Without data: every route, consent, CSRF, the recruiter login, every bad input (each refused
with its message and nothing stored), the job state in SQLite (a second tab, a restart) and
a deletion during an analysis. With the real data (``-m data``): the whole candidate path on
a demo interview (TXT + WAV + MP4, and a WebM with VP8 video and Opus sound made with PyAV),
two candidates at once, a video without a face, the recruiter's list and comparison, and the
deletion of everything. The shipped models are loaded once for the module.
"""

from __future__ import annotations

import io
import json
import re
import sqlite3
import threading
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import real_dataset


from mmer_utils.app import AppConfigError, create_app, load_questions  # noqa: E402
from mmer_utils.app.media import InputError, decode_audio, decode_video, text_from_upload  # noqa: E402
from mmer_utils.errors import MmerError  # noqa: E402

PASSWORD = "correct horse battery staple"
ANSWER = ("Last spring I led a group of five students in our software project. Two members disagreed about the "
          "design, so I organised a short meeting, listened to both sides, and we chose a plan together. I then "
          "split the work, checked progress every week, and we delivered on time. I learned that listening first "
          "makes a team trust its leader.")
SR = 16000


# --------------------------------------------------------------------------- helpers


def _no_models():
    raise AssertionError("a test without data must not load the models")


def make_app(tmp_path, **config):
    base = {"DATABASE": tmp_path / "app.sqlite", "RECRUITER_PASSWORD": PASSWORD, "TESTING": True,
            "MODELS_LOADER": _no_models}
    base.update(config)
    return create_app(base)


def csrf(client) -> str:
    page = client.get("/consent").text                     # a page with a form: the session gets its token
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    with client.session_transaction() as session:
        assert session["_csrf"] == token
    return token


def consent(client) -> str:
    token = csrf(client)
    r = client.post("/consent", data={"csrf_token": token, "agree": "yes", "agree_sensitive": "yes"})
    assert r.status_code == 303 and r.headers["Location"].endswith("/interview")
    return token


def submit(client, token, mode="text", question="leadership", **fields):
    data = {"csrf_token": token, "mode": mode, "question": question}
    for key, value in fields.items():
        if isinstance(value, Path):
            value = (io.BytesIO(value.read_bytes()), value.name)
        elif isinstance(value, tuple) and isinstance(value[0], bytes):
            value = (io.BytesIO(value[0]), value[1])
        data[key] = value
    return client.post("/answer", data=data, content_type="multipart/form-data")


def errors_of(page: str) -> dict:
    return dict(re.findall(r'<li data-field="(\w+)">([^<]*)</li>', page))


def stored(app) -> dict:
    """What the app holds: interview rows, score rows, and the files under its files folder."""
    ext = app.extensions["mmer"]
    with sqlite3.connect(app.config["SCORES_DATABASE"]) as conn:
        scores = conn.execute("SELECT COUNT(*) FROM candidates").fetchone()[0]
        score_rows = conn.execute("SELECT COUNT(*) FROM scores").fetchone()[0]
    files = sorted(p.relative_to(ext["files"].root).as_posix() for p in ext["files"].root.rglob("*"))
    return {"interviews": ext["db"].count(), "candidates": scores, "scores": score_rows, "files": files}


NOTHING = {"interviews": 0, "candidates": 0, "scores": 0, "files": []}


def tone(seconds: float, *, amplitude: float = 0.3, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def wav_bytes(y, sr: int = SR) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def write_video(path, frames, fps: float = 10.0) -> Path:
    from mmer_utils.video.io import VideoWriter

    with VideoWriter(path, fps=fps) as writer:
        for frame in frames:
            writer.write(frame)
    return Path(path)


def blank_video(path, seconds: float = 2.0, fps: float = 10.0) -> Path:
    return write_video(path, [np.full((120, 160, 3), 80 + i, np.uint8) for i in range(int(seconds * fps))], fps)


def make_pdf(lines) -> bytes:
    """A one-page PDF whose text pypdf extracts (Helvetica, one line per item)."""
    def esc(s):
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    content = "BT /F1 11 Tf 50 750 Td 14 TL " + " ".join(f"({esc(line)}) Tj T*" for line in lines) + " ET"
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               "/Resources << /Font << /F1 5 0 R >> >> >>",
               f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
               "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = b"%PDF-1.4\n", []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{obj}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def blank_pdf() -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def make_webm(path, video: Path, audio: Path | None) -> Path:
    """A WebM as Chromium's MediaRecorder writes it: VP8 video and (optionally) Opus sound."""
    import av
    import cv2
    import soundfile as sf

    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS) or 10
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    with av.open(str(path), "w", format="webm") as container:
        vs = container.add_stream("libvpx", rate=int(round(fps)))
        vs.width, vs.height, vs.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        vs.bit_rate = 400_000
        a_stream = None
        if audio is not None:
            a_stream = container.add_stream("libopus", rate=48000)
            a_stream.layout = "mono"
        for frame in frames:
            for packet in vs.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
                container.mux(packet)
        for packet in vs.encode():
            container.mux(packet)
        if a_stream is not None:
            y, sr = sf.read(str(audio), dtype="int16")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
            for i in range(0, len(y), sr // 10):
                chunk = av.AudioFrame.from_ndarray(y[None, i:i + sr // 10], format="s16", layout="mono")
                chunk.sample_rate = sr
                for out in resampler.resample(chunk):
                    for packet in a_stream.encode(out):
                        container.mux(packet)
            for out in resampler.resample(None):
                for packet in a_stream.encode(out):
                    container.mux(packet)
            for packet in a_stream.encode():
                container.mux(packet)
    return Path(path)


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.delenv("MMER_RECRUITER_PASSWORD", raising=False)
    application = make_app(tmp_path)
    yield application
    application.extensions["mmer"]["runner"].shutdown()


@pytest.fixture
def client(app):
    return app.test_client()


# --------------------------------------------------------------------------- pages, consent, headers


#: Every route of the app; a new one must be added here, and tested.
ROUTES = {
    "/", "/consent", "/consent/withdraw", "/interview", "/answer", "/deleted", "/r/<token>", "/r/<token>/status",
    "/r/<token>/figures/<name>.png", "/r/<token>/report.html", "/r/<token>/report.zip",
    "/r/<token>/recordings/<name>", "/r/<token>/delete", "/recruiter/", "/recruiter/login", "/recruiter/logout",
    "/recruiter/candidates/<int:interview_id>", "/recruiter/candidates/<int:interview_id>/figures/<name>.png",
    "/recruiter/compare", "/static/<path:filename>",
    "/static/models/<name>.onnx", "/browser/check",   # the in-browser face models: tests/test_browser_app.py
}


def test_the_routes_are_the_tested_ones(app):
    assert {rule.rule for rule in app.url_map.iter_rules()} == ROUTES


def test_every_page_before_the_answer(app, client):
    r = client.get("/")
    assert r.status_code == 200 and "Start" in r.text and "Not a measurement of you" in r.text
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Referrer-Policy"] == "no-referrer" and r.headers["Cache-Control"] == "no-store"
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", r.text)        # no CDN, nothing external
    for name in ("app.css", "recorder.js", "progress.js"):
        static = client.get(f"/static/{name}")
        assert static.status_code == 200 and len(static.data) > 500
    js = client.get("/static/recorder.js").text
    assert "getUserMedia" in js and "MediaRecorder" in js and "DataTransfer" in js and "data-max-seconds" in js

    page = client.get("/consent").text
    for words in ("What is recorded", "What is inferred", "sensitive personal data", "What is stored",
                  "30 days", "How to delete it", "Delete my data", 'name="csrf_token"'):
        assert words in page, words
    # consent first: the interview pages send a candidate to it
    for url in ("/interview", "/answer?mode=text&question=leadership"):
        r = client.get(url)
        assert r.status_code == 302 and r.headers["Location"].endswith("/consent")
    token = csrf(client)
    r = client.post("/consent", data={"csrf_token": token, "agree": "yes"})   # one box only
    assert r.status_code == 400 and "Tick both boxes" in r.text
    assert submit(client, token, text=ANSWER).status_code == 303                 # no consent: back to it
    assert stored(app) == NOTHING
    consent(client)

    page = client.get("/interview").text
    assert "Tell us about the last time you showed leadership." in page
    assert all(f'value="{m}"' in page for m in ("text", "voice", "video", "all"))
    r = client.get("/answer?mode=text&question=nope")
    assert r.status_code == 400 and "Choose a kind of interview and a question" in r.text
    text = client.get("/answer?mode=text&question=leadership").text
    assert "<textarea" in text and 'name="text_file"' in text and 'class="recorder' not in text
    voice = client.get("/answer?mode=voice&question=conflict").text
    assert 'data-kind="audio"' in voice and 'data-max-seconds="120"' in voice and "<textarea" not in voice
    assert "disagreement" in voice and 'name="keep_recordings"' in voice
    video = client.get("/answer?mode=video&question=leadership").text
    assert 'data-kind="video"' in video and 'data-audio="no"' in video
    both = client.get("/answer?mode=all&question=leadership").text
    assert 'data-kind="video"' in both and 'data-audio="yes"' in both and "<textarea" in both

    r = client.post("/consent/withdraw", data={"csrf_token": token})
    assert r.status_code == 303 and client.get("/interview").status_code == 302
    r = client.get("/deleted")
    assert r.status_code == 200 and "deleted" in r.text
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and "There is nothing here" in missing.text


def test_question_bank(tmp_path):
    questions = load_questions()
    assert len(questions) >= 5 and len({q["id"] for q in questions}) == len(questions)
    assert "Tell us about the last time you showed leadership." in [q["text"] for q in questions]
    bad = tmp_path / "q.json"
    for content, match in (("[]", "no questions"), ('[{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]', "twice"),
                           ('[{"id": "a b/c", "text": "x"}]', "letters"), ("{not json", "cannot read")):
        bad.write_text(content)
        with pytest.raises(AppConfigError, match=match):
            load_questions(bad)
    with pytest.raises(AppConfigError):
        make_app(tmp_path, QUESTIONS_FILE=bad)


def test_csrf_is_required_on_every_form(app, client):
    token = consent(client)
    other = app.test_client()
    consent(other)
    for url, data in (("/consent", {"agree": "yes", "agree_sensitive": "yes"}),
                      ("/answer", {"mode": "text", "question": "leadership", "text": ANSWER}),
                      ("/recruiter/login", {"password": PASSWORD}), ("/recruiter/logout", {}),
                      ("/consent/withdraw", {}), ("/r/" + "a" * 32 + "/delete", {})):
        for sent in (None, "", "wrong", token[::-1]):
            body = dict(data) if sent is None else {**data, "csrf_token": sent}
            r = client.post(url, data=body)
            assert r.status_code == 400, (url, sent)
            assert "security token is missing or wrong" in r.text
    # the token of another session does not work either
    with other.session_transaction() as s:
        theirs = s["_csrf"]
    assert theirs != token
    assert client.post("/recruiter/login", data={"csrf_token": theirs, "password": PASSWORD}).status_code == 400
    assert stored(app) == NOTHING


# --------------------------------------------------------------------------- bad input


def test_bad_text_answers(app, client):
    token = consent(client)
    cases = [
        ({"text": ""}, "The text answer is empty"),
        ({"text": "   \n  "}, "The text answer is empty"),
        ({"text": "I led teams."}, "has 3 words; write at least 20 words"),
        ({"text": ANSWER, "text_file": (ANSWER.encode(), "a.txt")}, "not both"),
        ({"text_file": (blank_pdf(), "answer.pdf")}, "has no text we can read"),
        ({"text_file": (b"%PDF-1.4\n" + b"garbage " * 50, "answer.pdf")}, "cannot be read"),
        ({"text_file": (b"\x89PNG\r\n\x1a\n" + bytes(200), "answer.txt")}, "not a text or PDF file (its content is a PNG"),
        ({"text_file": (b"PK\x03\x04" + bytes(200), "answer.txt")}, "ZIP archive"),
        ({"text_file": (b"", "answer.txt")}, "is empty (0 bytes)"),
        ({"text_file": (make_pdf(["I led.", "Three words"]), "short.pdf")}, "The text in short.pdf has 4 words"),
        ({"text": "word " * 5000}, "the limit is 20,000"),
    ]
    for fields, message in cases:
        r = submit(client, token, **fields)
        assert r.status_code == 400, fields
        errs = errors_of(r.text)
        assert message in errs.get("text", ""), (message, errs)
        assert "nothing was stored" in r.text
    # the typed text is given back in the form (escaped), so the candidate loses nothing
    r = submit(client, token, text="<script>alert(1)</script> short", name="<b>Eve</b>")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; short</textarea>" in r.text and "<script>alert" not in r.text
    assert 'value="&lt;b&gt;Eve&lt;/b&gt;"' in r.text
    assert stored(app) == NOTHING


def test_text_from_pdf_and_windows_text():
    words = ANSWER.split()
    lines = [" ".join(words[i:i + 10]) for i in range(0, len(words), 10)]
    text = text_from_upload(make_pdf(lines), "cv.pdf", min_words=20, max_chars=20000)
    assert "software project" in text and len(text.split()) >= 50
    latin = ("Caf\xe9 " + ANSWER).encode("cp1252")
    assert text_from_upload(latin, "a.txt", min_words=20, max_chars=20000).startswith("Café")
    with pytest.raises(InputError, match="not a text or PDF"):
        text_from_upload(b"\x00\x01\x02" * 100, "a.txt", min_words=20, max_chars=20000)


def test_bad_recordings(app, client, tmp_path):
    token = consent(client)
    good_wav = wav_bytes(tone(3.0))
    webm = make_webm(tmp_path / "clip.webm", blank_video(tmp_path / "b.mp4", 2.0), None)
    corrupt_webm = webm.read_bytes()[:120] + np.random.default_rng(0).bytes(30_000)
    video = blank_video(tmp_path / "v.mp4", 2.5)
    jpeg = __import__("cv2").imencode(".jpg", np.full((64, 64, 3), 128, np.uint8))[1].tobytes()
    cases = [
        ("voice", {}, "audio", "No voice recording"),
        ("voice", {"audio": (b"", "")}, "audio", "No voice recording"),                         # empty file part
        ("video", {}, "video", "No video"),
        ("all", {"text": ANSWER}, "video", "No video"),
        ("voice", {"audio": (wav_bytes(np.zeros(3 * SR, np.float32)), "a.wav")}, "audio", "is silent"),
        ("voice", {"audio": (wav_bytes(tone(0.5)), "a.wav")}, "audio", "speak for at least 2 s"),
        ("voice", {"audio": (b"hello, I am a text file\n" * 50, "answer.wav")}, "audio", "cannot be decoded"),
        ("voice", {"audio": (make_pdf(["hello"]), "answer.webm")}, "audio",
         "is not a recording (its content is a PDF document)"),
        ("voice", {"audio": (corrupt_webm, "recording.webm")}, "audio", "cannot be decoded"),
        ("voice", {"audio": (jpeg, "answer.mp3")}, "audio", "has no sound (an image)"),
        ("video", {"video": (good_wav, "answer.mp4")}, "video", "has no picture (it is a sound recording)"),
        ("video", {"video": (jpeg, "answer.webm")}, "video", "is a still image, not a video"),
        ("video", {"video": (corrupt_webm, "recording.webm")}, "video", "cannot be decoded"),
        ("video", {"video": (b"\x00" * 5000, "x.mp4")}, "video", "cannot be decoded"),
        ("all", {"text": ANSWER, "video": video}, "audio", "has no sound (a video without sound)"),
    ]
    for mode, fields, field, message in cases:
        r = submit(client, token, mode=mode, **fields)
        assert r.status_code == 400, (mode, fields.keys(), r.text[:300])
        errs = errors_of(r.text)
        assert message in errs.get(field, ""), (message, errs)
    assert stored(app) == NOTHING


def test_recordings_longer_than_the_maximum(tmp_path, monkeypatch):
    monkeypatch.delenv("MMER_RECRUITER_PASSWORD", raising=False)
    app = make_app(tmp_path, MAX_RECORDING_SECONDS=3)
    client = app.test_client()
    token = consent(client)
    assert 'data-max-seconds="3"' in client.get("/answer?mode=voice&question=leadership").text
    r = submit(client, token, mode="voice", audio=(wav_bytes(tone(6.0)), "long.wav"))
    assert r.status_code == 400 and "lasts more than 3 s, the maximum" in errors_of(r.text)["audio"]
    r = submit(client, token, mode="video", video=blank_video(tmp_path / "long.mp4", 6.0))
    assert r.status_code == 400 and "lasts more than 3 s, the maximum" in errors_of(r.text)["video"]
    assert stored(app) == NOTHING


def test_an_oversized_upload_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("MMER_RECRUITER_PASSWORD", raising=False)
    app = make_app(tmp_path, MAX_CONTENT_LENGTH=200_000)
    client = app.test_client()
    token = consent(client)
    r = submit(client, token, mode="voice", audio=(wav_bytes(tone(10.0)), "big.wav"))   # 320 kB
    assert r.status_code == 413
    assert "larger than 0.2 MB, the limit of this server" in r.text and "Nothing was stored" in r.text
    assert stored(app) == NOTHING


def test_media_conversion(tmp_path):
    """WebM (VP8 + Opus, as Chromium records) -> 16 kHz mono WAV and a constant-rate MP4 OpenCV reads."""
    import soundfile as sf

    from mmer_utils.video.io import video_info

    wav = tmp_path / "a.wav"
    wav.write_bytes(wav_bytes(tone(3.0)))
    webm = make_webm(tmp_path / "a.webm", blank_video(tmp_path / "v.mp4", 3.0), wav)
    seconds = decode_audio(webm, tmp_path / "out.wav", name="a.webm", max_seconds=10)
    info = sf.info(str(tmp_path / "out.wav"))
    assert info.samplerate == SR and info.channels == 1 and seconds == pytest.approx(3.0, abs=0.1)
    got = decode_video(webm, tmp_path / "out.mp4", name="a.webm", max_seconds=10, fps=5, max_side=100)
    assert got["has_audio"] and got["seconds"] == pytest.approx(3.0, abs=0.3)
    meta = video_info(tmp_path / "out.mp4")
    assert meta["fps"] == 5 and max(meta["width"], meta["height"]) <= 100 and meta["n_frames"] == got["frames"]


# --------------------------------------------------------------------------- recruiter


def test_recruiter_view_is_disabled_without_a_password(tmp_path, monkeypatch):
    monkeypatch.delenv("MMER_RECRUITER_PASSWORD", raising=False)
    app = make_app(tmp_path, RECRUITER_PASSWORD=None)
    client = app.test_client()
    for url in ("/recruiter/", "/recruiter/login", "/recruiter/compare?ids=1&ids=2", "/recruiter/candidates/1"):
        r = client.get(url)
        assert r.status_code == 403 and "The recruiter view is disabled" in r.text, url
        assert "--recruiter-password-file" in r.text and "MMER_RECRUITER_PASSWORD" in r.text
    token = csrf(client)
    assert client.post("/recruiter/login", data={"csrf_token": token, "password": ""}).status_code == 403
    # the environment variable enables it; the password is kept hashed only
    monkeypatch.setenv("MMER_RECRUITER_PASSWORD", "from-env")
    app3 = create_app({"DATABASE": tmp_path / "3" / "a.sqlite", "MODELS_LOADER": _no_models})
    assert app3.config["RECRUITER_PASSWORD_HASH"].startswith(("scrypt:", "pbkdf2:"))
    assert "from-env" not in json.dumps({k: str(v) for k, v in app3.config.items()})


def test_recruiter_login_logout_and_throttle(app, client):
    r = client.get("/recruiter/")
    assert r.status_code == 302 and "/recruiter/login?next=/recruiter/" in r.headers["Location"]
    assert "RECRUITER_PASSWORD" not in app.config and PASSWORD not in str(app.config["RECRUITER_PASSWORD_HASH"])
    token = csrf(client)
    r = client.post("/recruiter/login", data={"csrf_token": token, "password": "guess"})
    assert r.status_code == 401 and "Wrong password" in r.text
    r = client.post("/recruiter/login", data={"csrf_token": token, "password": PASSWORD, "next": "//evil.example/x"})
    assert r.status_code == 303 and r.headers["Location"] == "/recruiter/"          # no open redirect
    page = client.get("/recruiter/")
    assert page.status_code == 200 and "Candidates with results" in page.text and "0 shown" in page.text
    with client.session_transaction() as s:          # the session was renewed at login (new CSRF token)
        assert s["_csrf"] != token
        token = s["_csrf"]
    r = client.get("/recruiter/compare?ids=1")
    assert r.status_code == 400 and "exactly two" in r.text
    assert client.get("/recruiter/candidates/999").status_code == 404
    assert client.post("/recruiter/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/recruiter/").status_code == 302
    # too many failed attempts from one address
    intruder = app.test_client()
    intruder.environ_base["REMOTE_ADDR"] = "192.0.2.7"      # another address than the recruiter's above
    t = csrf(intruder)
    codes = [intruder.post("/recruiter/login", data={"csrf_token": t, "password": f"x{i}"}).status_code
             for i in range(6)]
    assert codes == [401] * 5 + [429]
    r = intruder.post("/recruiter/login", data={"csrf_token": t, "password": PASSWORD})
    assert r.status_code == 429 and "Too many failed attempts" in r.text
    assert client.post("/recruiter/login", data={"csrf_token": csrf(client), "password": PASSWORD}).status_code == 303


def test_command_line(tmp_path, capsys, monkeypatch):
    from mmer_utils.app.__main__ import build_config, main, parser

    monkeypatch.delenv("MMER_RECRUITER_PASSWORD", raising=False)
    monkeypatch.setenv("MMER_CACHE_DIR", str(tmp_path / "cache"))
    args = parser().parse_args([])
    assert (args.host, args.port, args.db) == ("127.0.0.1", 8000, None)
    pw = tmp_path / "pw.txt"
    pw.write_text("s3cret\nignored\n")
    config = build_config(parser().parse_args(["--recruiter-password-file", str(pw), "--db", str(tmp_path / "x.db")]))
    assert config["RECRUITER_PASSWORD"] == "s3cret"
    assert main(["--db", str(tmp_path / "c.sqlite"), "--port", "8123"], serve=False) == 0
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8123/" in out and "recruiter view: disabled" in out
    assert main([], serve=False) == 0                                  # default database in the cache folder
    assert (tmp_path / "cache" / "app" / "app.sqlite").is_file()
    assert main(["--db", str(tmp_path / "d.sqlite"), "--recruiter-password-file", str(pw)], serve=False) == 0
    assert "recruiter view: http://127.0.0.1:8000/recruiter/" in capsys.readouterr().out
    pw.write_text("\n")
    assert main(["--recruiter-password-file", str(pw)], serve=False) == 2
    assert main(["--recruiter-password-file", str(tmp_path / "none.txt")], serve=False) == 2
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database" * 100)
    assert main(["--db", str(junk)], serve=False) == 2
    err = capsys.readouterr().err
    assert "is empty" in err and "cannot read the recruiter password file" in err and "not an SQLite" in err


# --------------------------------------------------------------------------- job state, restart, deletion


def test_job_state_lives_in_sqlite_and_a_failure_stores_nothing(tmp_path, monkeypatch):
    """A second tab sees the running job; a failed analysis keeps only its row and its one-line reason."""
    monkeypatch.delenv("MMER_RECRUITER_PASSWORD", raising=False)
    release = threading.Event()

    def slow_broken_models():
        release.wait(30)
        raise MmerError(f"no models in {tmp_path}/somewhere (test)")

    app = make_app(tmp_path, MODELS_LOADER=slow_broken_models)
    client = app.test_client()
    token = consent(client)
    r = submit(client, token, text=ANSWER, name="Tab")
    assert r.status_code == 303
    link = r.headers["Location"]
    assert re.fullmatch(r"/r/[A-Za-z0-9_-]{32}", link)
    tab = app.test_client()                                    # a second tab, no session at all
    page = tab.get(link)
    assert page.status_code == 200 and "Analysing your answer" in page.text and "progress.js" in page.text
    assert tab.get(link + "/status").json["state"] in ("queued", "running")
    assert stored(app)["interviews"] == 1 and any(f.endswith("inputs/answer.txt") for f in stored(app)["files"])
    for path in ("/figures/traits.png", "/report.html", "/report.zip"):
        assert tab.get(link + path).status_code == 404               # nothing to show before it is done
    release.set()
    assert app.extensions["mmer"]["runner"].wait(30)
    status = tab.get(link + "/status").json
    assert status["state"] == "failed" and "no models in" in status["message"]
    page = tab.get(link)
    assert "could not be analysed" in page.text and "no models in" in page.text and "Answer again" in page.text
    assert stored(app) == {**NOTHING, "interviews": 1}              # the row and its reason, no file, no score
    r = tab.post(link + "/delete", data={"csrf_token": csrf(tab)})
    assert r.status_code == 303 and stored(app) == NOTHING


def test_restart_resumes_unfinished_jobs(tmp_path, monkeypatch):
    monkeypatch.delenv("MMER_RECRUITER_PASSWORD", raising=False)
    from mmer_utils.app.db import AppDB

    db = AppDB(tmp_path / "app.sqlite")
    token = "R" * 32
    inputs = tmp_path / "app-files" / token / "inputs"
    inputs.mkdir(parents=True)
    (inputs / "answer.txt").write_text(ANSWER)
    db.create(token=token, name="left over", question_id="leadership", question="q", mode="text",
              inputs={"text": "typed text"}, keep_recordings=False, retention_days=30)
    db.set_state(token, "running", step="was running when the server stopped")
    calls = []

    def models():
        calls.append(1)
        raise MmerError("models unavailable (test)")

    app = make_app(tmp_path, MODELS_LOADER=models)
    assert app.extensions["mmer"]["runner"].wait(30)
    row = db.get(token)
    assert calls and row["state"] == "failed" and row["message"] == "models unavailable (test)"
    assert not (tmp_path / "app-files" / token).exists()
    # past the retention date: deleted at the next start
    db.create(token="E" * 32, name="old", question_id="leadership", question="q", mode="text", inputs={},
              keep_recordings=False, retention_days=-1)
    make_app(tmp_path, MODELS_LOADER=models, RESUME_JOBS=False)
    assert db.get("E" * 32) is None and db.get(token) is not None


def test_deleting_while_the_analysis_runs(tmp_path, monkeypatch):
    monkeypatch.delenv("MMER_RECRUITER_PASSWORD", raising=False)
    started, release = threading.Event(), threading.Event()

    def models():
        started.set()
        release.wait(30)
        raise MmerError("stopped (test)")

    app = make_app(tmp_path, MODELS_LOADER=models)
    client = app.test_client()
    token = consent(client)
    link = submit(client, token, mode="voice", keep_recordings="yes",
                  audio=(wav_bytes(tone(3.0)), "a.wav")).headers["Location"]
    assert started.wait(30)
    files = stored(app)["files"]
    assert any("recording-voice.wav" in f for f in files) and any("voice.wav" in f for f in files)
    assert "Delete everything now" in client.get(link + "/delete").text
    r = client.post(link + "/delete", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["Location"].endswith("/deleted")
    release.set()
    assert app.extensions["mmer"]["runner"].wait(30)
    assert stored(app) == NOTHING and client.get(link).status_code == 404
    assert client.get(link + "/status").status_code == 404


def test_candidates_submitting_at_once(tmp_path, monkeypatch):
    """Four submissions at the same moment: four rows, four links, each job run once."""
    monkeypatch.delenv("MMER_RECRUITER_PASSWORD", raising=False)
    runs = []

    def models():
        runs.append(threading.current_thread().name)
        raise MmerError("models unavailable (test)")

    app = make_app(tmp_path, MODELS_LOADER=models)
    links, failures = [], []
    barrier = threading.Barrier(4)

    def candidate(i):
        try:
            client = app.test_client()
            token = consent(client)
            barrier.wait(10)
            r = submit(client, token, name=f"c{i}", text=ANSWER, question="pressure")
            assert r.status_code == 303
            links.append(r.headers["Location"])
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)

    threads = [threading.Thread(target=candidate, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures and len(set(links)) == 4
    assert app.extensions["mmer"]["runner"].wait(60)
    assert len(runs) == 4 and set(runs) == {runs[0]}                   # one worker thread, one run per job
    db = app.extensions["mmer"]["db"]
    rows = [db.get(link.rsplit("/", 1)[1]) for link in links]
    assert sorted(r["name"] for r in rows) == ["c0", "c1", "c2", "c3"]
    assert {r["state"] for r in rows} == {"failed"} and stored(app) == {**NOTHING, "interviews": 4}


def test_an_answer_the_models_cannot_use_is_refused_after_the_analysis(tmp_path, monkeypatch):
    """No face in the video, only near-silence in the voice, or another reason the portrait gives: the job fails
    with one sentence per bad input (no server path in it) and nothing but the row is kept."""
    import mmer_utils.portrait as portrait_package
    from mmer_utils.portrait import PortraitInputError

    monkeypatch.delenv("MMER_RECRUITER_PASSWORD", raising=False)
    app = make_app(tmp_path, MODELS_LOADER=lambda: object())
    files = str(app.config["FILES_DIR"])
    outcomes = [
        PortraitInputError("no face was found in the 12 frames of video.mp4: no face emotion",
                           {"video": "no face was found in the 12 frames of video.mp4: no face emotion"}),
        lambda audio: SimpleNamespace(problems={
            "audio": "every window of voice.wav is near silence: no speech heard",
            "text": f"{Path(audio).parent / 'answer.txt'} has no English words to analyse"}),
    ]
    expected = [["No face was found in the video (12 frames analysed): record again facing the camera"],
                ["No speech was heard in the voice recording", "Text: answer.txt has no English words to analyse."]]

    def fake_build(models, **kwargs):
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome(kwargs["audio"])

    monkeypatch.setattr(portrait_package, "build_portrait", fake_build)
    client = app.test_client()
    token = consent(client)
    for messages in expected:
        r = submit(client, token, mode="voice", audio=(wav_bytes(tone(3.0)), "a.wav"))
        assert r.status_code == 303, errors_of(r.text)
        link = r.headers["Location"]
        assert app.extensions["mmer"]["runner"].wait(30)
        status = client.get(link + "/status").json
        assert status["state"] == "failed" and files not in status["message"]
        for message in messages:
            assert message in status["message"], status["message"]
        assert "could not be analysed" in client.get(link).text
    assert not outcomes and stored(app) == {**NOTHING, "interviews": 2}


def test_unguessable_links_only(app, client):
    for link in ("/r/short", "/r/" + "a" * 32, "/r/../../etc/passwd", "/r/%2e%2e%2fapp.sqlite", "/r/" + "é" * 20):
        assert client.get(link).status_code == 404, link
        assert client.get(link + "/status").status_code == 404
        assert client.get(link + "/report.zip").status_code == 404


# --------------------------------------------------------------------------- real data: the whole path


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A demo interview made of real data: held-out essay, RAVDESS actor 24, FER2013 faces; and its WebM."""
    for name in ("essays", "ravdess", "fer2013"):
        real_dataset(name)
    from mmer_utils.portrait.demo import make_demo_interview

    folder = tmp_path_factory.mktemp("demo")
    paths = make_demo_interview(folder, emotions=("happy", "angry", "happy", "sad"))
    paths["webm"] = make_webm(folder / "answer.webm", paths["video"], paths["audio"])
    return paths


@pytest.fixture(scope="module")
def models():
    """The shipped models, loaded once for the module."""
    for name in ("meld", "essays", "nltk_data"):
        real_dataset(name)
    from mmer_utils import config
    from mmer_utils.portrait import load_models

    config.import_tensorflow_quietly()
    return load_models()


@pytest.fixture(scope="module")
def live(tmp_path_factory, models):
    """One app for the real-data tests (they share its candidates, as a class would)."""
    loader = lambda: models  # noqa: E731 - one loader object: the app's model cache is keyed on it
    app = create_app({"DATABASE": tmp_path_factory.mktemp("live") / "app.sqlite", "RECRUITER_PASSWORD": PASSWORD,
                      "TESTING": True, "MODELS_LOADER": loader})
    yield app
    app.extensions["mmer"]["runner"].shutdown()


def _wait(app, client, link, timeout=600):
    assert app.extensions["mmer"]["runner"].wait(timeout)
    return client.get(link + "/status").json["state"]


@pytest.mark.data
def test_the_whole_candidate_path(live, demo):
    client = live.test_client()
    token = consent(client)
    assert stored(live)["interviews"] == 0
    r = submit(client, token, mode="all", name="Ada <script>", text=demo["text"].read_text(),
               audio=demo["audio"], video=demo["video"])
    assert r.status_code == 303, errors_of(r.text)
    link = r.headers["Location"]
    progress = client.get(link)
    assert progress.status_code == 200
    assert _wait(live, client, link) == "done", client.get(link + "/status").json
    page = client.get(link).text
    assert "Your interview portrait: Ada &lt;script&gt;" in page and "<script>" not in page.split("</head>")[1]
    for section in ("traits", "timelines", "most-frequent", "combined", "text", "standing", "your-data"):
        assert f'id="{section}"' in page, section
    assert "percentile among essay writers" in page and "percentile among candidates before this one (0)" in page
    assert "this one was the first" in page
    row = live.extensions["mmer"]["db"].get(link.rsplit("/", 1)[1])
    s = row["summary"]
    assert set(s["most_frequent"]) == {"text", "voice", "face"} and set(s["agreement"]) == {"text", "voice", "face"}
    assert s["combined_emotion"] in s["combined"] and s["most_visible_trait"] in s["traits"]
    assert s["face"]["frames_with_face"] > 0 and s["voice"]["speech_windows"] > 0 and s["most_common_words"]
    assert row["inputs"]["text"] == "typed text" and row["inputs"]["audio"].startswith("voice, ")
    assert row["inputs"]["video"].startswith("video, ")
    for name in ("traits", "voice_timeline", "face_timeline", "combined", "text_emotion"):
        assert f"/figures/{name}.png" in page
        fig = client.get(f"{link}/figures/{name}.png")
        assert fig.status_code == 200 and fig.data.startswith(b"\x89PNG")
    html = client.get(link + "/report.html")
    assert html.status_code == 200 and "attachment" in html.headers["Content-Disposition"]
    assert b"Candidate portrait" in html.data
    archive = zipfile.ZipFile(io.BytesIO(client.get(link + "/report.zip").data))
    names = set(archive.namelist())
    assert {"interview-portrait/report.html", "interview-portrait/portrait.json",
            "interview-portrait/voice_timeline.csv", "interview-portrait/face_timeline.csv"} <= names
    assert json.loads(archive.read("interview-portrait/portrait.json"))["name"] == "Ada <script>"
    # recordings are discarded after the analysis (the candidate did not ask to keep them)
    files = stored(live)["files"]
    assert not any("/inputs" in f for f in files) and any(f.endswith("report/report.html") for f in files)
    assert "Your recordings and text were deleted after the analysis" in page


@pytest.mark.data
def test_a_webm_recording_kept_then_everything_deleted(live, demo):
    client = live.test_client()
    token = consent(client)
    before = stored(live)
    r = submit(client, token, mode="all", name="Webm", text=demo["text"].read_text(), keep_recordings="yes",
               video=(demo["webm"].read_bytes(), "video-recording.webm"))
    assert r.status_code == 303, errors_of(r.text)
    link = r.headers["Location"]
    key = link.rsplit("/", 1)[1]
    assert _wait(live, client, link) == "done", client.get(link + "/status").json
    row = live.extensions["mmer"]["db"].get(key)
    assert row["inputs"]["audio"].startswith("sound of the video") and row["summary"]["voice"]["speech_windows"] > 0
    assert row["summary"]["face"]["frames_with_face"] > 0
    page = client.get(link).text
    assert "Your recordings are kept" in page and "recording-video.webm" in page
    rec = client.get(f"{link}/recordings/recording-video.webm")
    assert rec.status_code == 200 and rec.data[:4] == b"\x1a\x45\xdf\xa3"
    assert client.get(f"{link}/recordings/..%2fanswer.txt").status_code == 404
    n_others = row["summary"]["comparison"]["n_others"]
    noun = "candidate" if n_others == 1 else "candidates"
    assert f"Compared with the {n_others} {noun} before this one" in page

    after = stored(live)
    assert after["interviews"] == before["interviews"] + 1 and after["candidates"] == before["candidates"] + 1
    assert any(f.startswith(key + "/inputs/recording-video.webm") for f in after["files"])
    # deletion: recordings, row, scores and every derived file are gone
    assert client.post(link + "/delete", data={"csrf_token": "wrong"}).status_code == 400
    assert stored(live) == after
    r = client.post(link + "/delete", data={"csrf_token": token})
    assert r.status_code == 303
    gone = stored(live)
    assert gone == before and not any(f.startswith(key) for f in gone["files"])
    assert live.extensions["mmer"]["db"].get(key) is None
    for path in ("", "/status", "/figures/traits.png", "/report.html", "/report.zip",
                 "/recordings/recording-video.webm"):
        assert client.get(link + path).status_code == 404, path
    assert row["score_id"] not in live.extensions["mmer"]["runner"].store().candidates().index


@pytest.mark.data
def test_two_candidates_at_once_and_isolation(live):
    words = ANSWER.split()
    pdf = make_pdf([" ".join(words[i:i + 10]) for i in range(0, len(words), 10)])
    answers = {"Alice": {"text": ANSWER}, "Bob": {"text_file": (pdf, "my answer.pdf")}}
    links, failures = {}, []

    def candidate(name):
        try:
            client = live.test_client()
            token = consent(client)
            r = submit(client, token, name=name, question="proud", **answers[name])
            assert r.status_code == 303, errors_of(r.text)
            links[name] = (client, r.headers["Location"])
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)

    threads = [threading.Thread(target=candidate, args=(n,)) for n in answers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    assert links["Alice"][1] != links["Bob"][1]
    for name, (client, link) in links.items():
        assert _wait(live, client, link) == "done"
    for name, (client, link) in links.items():
        other = "Bob" if name == "Alice" else "Alice"
        page = client.get(link).text
        assert f"Your interview portrait: {name}" in page and other not in page
        row = live.extensions["mmer"]["db"].get(link.rsplit("/", 1)[1])
        assert row["inputs"] == {"text": "uploaded file" if name == "Bob" else "typed text"}
        # one candidate's session never opens another's results by changing the link
        other_link = links[other][1]
        assert client.get(other_link[:-1] + ("A" if other_link[-1] != "A" else "B")).status_code == 404
    # the recruiter sees both; a candidate's session does not reach the recruiter view
    assert links["Alice"][0].get("/recruiter/").status_code == 302


@pytest.mark.data
def test_a_video_without_a_face_is_refused_and_nothing_is_stored(live, tmp_path):
    client = live.test_client()
    token = consent(client)
    before = stored(live)
    r = submit(client, token, mode="video", video=blank_video(tmp_path / "empty_room.mp4", 3.0))
    assert r.status_code == 303
    link = r.headers["Location"]
    assert _wait(live, client, link) == "failed"
    page = client.get(link).text
    assert "No face was found in the video" in page and "nothing covering it" in page
    after = stored(live)
    assert after == {**before, "interviews": before["interviews"] + 1}      # the failed row only
    assert not any(f.startswith(link.rsplit("/", 1)[1]) for f in after["files"])


@pytest.mark.data
def test_recruiter_lists_filters_and_compares(live):
    client = live.test_client()
    token = csrf(client)
    r = client.post("/recruiter/login", data={"csrf_token": token, "password": PASSWORD})
    assert r.status_code == 303
    page = client.get("/recruiter/").text
    rows = live.extensions["mmer"]["db"].done()
    assert len(rows) >= 2
    for row in rows:
        assert f'/recruiter/candidates/{row["id"]}"' in page
    assert "Ada &lt;script&gt;" in page
    only = client.get("/recruiter/?mode=text").text
    assert all((f'/recruiter/candidates/{r["id"]}"' in only) == (r["mode"] == "text") for r in rows)
    named = client.get("/recruiter/?name=ali").text
    assert "Alice" in named and "Bob" not in named
    trait = rows[0]["top_trait"]
    by_trait = client.get(f"/recruiter/?trait={trait}").text
    assert all((f'/recruiter/candidates/{r["id"]}"' in by_trait) == (r["top_trait"] == trait) for r in rows)
    a, b = rows[0]["id"], rows[-1]["id"]
    detail = client.get(f"/recruiter/candidates/{a}")
    assert detail.status_code == 200 and "Personality traits" in detail.text
    fig = re.search(r'src="(/recruiter/candidates/\d+/figures/\w+\.png)"', detail.text)
    assert fig and client.get(fig.group(1)).data.startswith(b"\x89PNG")
    side = client.get(f"/recruiter/compare?ids={a}&ids={b}")
    assert side.status_code == 200 and "Side by side" in side.text
    assert f"#{a} " in side.text and f"#{b} " in side.text and "most visible trait" in side.text
    # without the login, none of it
    stranger = live.test_client()
    assert stranger.get(f"/recruiter/candidates/{a}").status_code == 302
    assert stranger.get(fig.group(1)).status_code == 302


@pytest.mark.data
def test_a_short_answer_not_in_english_is_analysed_with_caveats_on_the_page(live):
    """The portrait's caveats reach the results page: fewer than 50 words, and a text the models barely read."""
    german = ("Im letzten Jahr habe ich ein Team von fünf Leuten geleitet. Die Arbeit war schwer, aber wir haben "
              "das Projekt pünktlich abgeschlossen, und ich habe dabei viel über Geduld gelernt.")
    client = live.test_client()
    token = consent(client)
    r = submit(client, token, name="Greta", text=german, question="leadership")
    assert r.status_code == 303, errors_of(r.text)
    link = r.headers["Location"]
    assert _wait(live, client, link) == "done"
    page = client.get(link).text
    summary = live.extensions["mmer"]["db"].get(link.rsplit("/", 1)[1])["summary"]
    assert len(summary["caveats"]) == 2 and summary["problems"] == {}, summary
    assert 'id="caveats"' in page and "only 30 words (fewer than 50)" in page
    assert re.search(r"the models read English: they recognise \d+ of the 30 words of this text \(\d+ %\)", page)
