"""Load benchmark of the interview simulator (``python -m mmer_utils.bench app-load [--full]``).

What a class does to the app in the first minute of a session, measured on this machine:
many candidates send their answers at once, then wait on their progress page.

* The app (:mod:`mmer_utils.app`) is started as its own process, ``python -m mmer_utils.app``,
  on a free port of **127.0.0.1 only**, with a temporary database, files and cache (nothing
  of the user's is touched), the shipped models, one analysis worker (as shipped).
* Warm-up, not timed: one typed answer, which loads the models (the app loads them at its
  first analysis); its time is in the records' ``extra["warmup_seconds"]``.
* Then the load: **text** candidates (a typed answer: the opening of a held-out essay) and
  **video** candidates (*all three*: a typed answer, a video of FER2013 PrivateTest faces and
  held-out RAVDESS sentences, uploaded as an MP4 and a WAV), each in its own thread with its
  own session (cookies), all released together: consent, send the answer, poll the status
  every half second (the progress page polls every 2 s), read the results page.
  Quick mode: 3 text + 1 video answers; ``--full``: 20 text + 5 video.
* Checks: every answer completes (none lost or failed), and every candidate's results page
  is their own: the name in the title, and the page's "most common words" are words of the
  candidate's own answer (content words, as the portrait counts them). A lost or mixed-up
  answer makes the benchmark fail (:class:`~mmer_utils.errors.MmerError`), after it printed
  what it measured.

Records (chapter ``app``): per kind of answer and for all, the latency from sending the
answer to seeing it done (median, p90, max, seconds: what a candidate waits; it includes
the queue), the time the submission request itself takes (decoding and checking the
upload: median, p90, max), the throughput (answers analysed per minute, from the first
submission to the last answer done) and the share completed.

Bounded: a fixed number of candidates, a request timeout, one status request per candidate
per half second, and a deadline (quick 5 min, full 15 min) after which the benchmark stops and
fails; the server process is stopped in every case.
"""

from __future__ import annotations

import html
import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import numpy as np

from ..errors import MmerError
from ..results import BenchRecord

CHAPTER = "app"
OWNED_PREFIX = "interview simulator"
HOST = "127.0.0.1"                       # loopback only: the benchmark never listens on or calls another address
QUICK = {"text": 3, "video": 1}
FULL = {"text": 20, "video": 5}
EMOTIONS = ("happy", "angry", "sad")     # of a video answer's faces (one a second) and voice sentences
POLL_SECONDS = 0.5
REQUEST_TIMEOUT = 120.0
START_TIMEOUT = 120.0
DEADLINE = {False: 300.0, True: 900.0}   # seconds for the whole load (warm-up included), quick / full


class _Client:
    """One candidate's browser: its own cookies, no proxy (loopback), every request with a timeout."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                                  urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def request(self, path: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, str, str]:
        """``(status, final URL, body)``; redirects are followed (303 after a POST becomes a GET)."""
        req = urllib.request.Request(self.base + path if path.startswith("/") else path, data=data,
                                     headers=headers or {})
        try:
            with self.opener.open(req, timeout=REQUEST_TIMEOUT) as r:
                return r.status, r.geturl(), r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.geturl(), exc.read().decode("utf-8", "replace")

    def consent(self) -> str:
        status, _, page = self.request("/consent")
        m = re.search(r'name="csrf_token" value="([^"]+)"', page)
        if status != 200 or m is None:
            raise MmerError(f"the consent page answered {status} without a form")
        token = m.group(1)
        body = urllib.parse.urlencode({"csrf_token": token, "agree": "yes", "agree_sensitive": "yes"}).encode()
        status, url, _ = self.request("/consent", body, {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 200 or not url.endswith("/interview"):
            raise MmerError(f"consent refused ({status}, {url})")
        return token

    def submit(self, fields: dict, files: dict) -> tuple[int, str, str]:
        boundary = uuid.uuid4().hex
        parts = []
        for name, value in fields.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
                         + str(value).encode("utf-8") + b"\r\n")
        for name, (filename, content, ctype) in files.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                         f"Content-Type: {ctype}\r\n\r\n".encode() + content + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.request("/answer", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _start_server(folder: Path) -> tuple[subprocess.Popen, str, Path]:
    port = _free_port()
    log = folder / "server.log"
    env = dict(os.environ, MMER_CACHE_DIR=str(folder / "cache"), TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("MMER_RECRUITER_PASSWORD", None)
    cmd = [sys.executable, "-m", "mmer_utils.app", "--host", HOST, "--port", str(port),
           "--db", str(folder / "app.sqlite"), "--max-upload-mb", "32"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL)
    base = f"http://{HOST}:{port}"
    probe = _Client(base)
    until = time.monotonic() + START_TIMEOUT
    while time.monotonic() < until:
        if proc.poll() is not None:
            raise MmerError(f"the app stopped at start (exit {proc.returncode}): {_tail(log)}")
        try:
            if probe.request("/")[0] == 200:
                return proc, base, log
        except OSError:
            pass
        time.sleep(0.5)
    _stop(proc)
    raise MmerError(f"the app did not answer within {START_TIMEOUT:.0f} s: {_tail(log)}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _tail(log: Path, n: int = 600) -> str:
    try:
        return log.read_text(errors="replace")[-n:].replace("\n", " | ")
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------- the answers


def _answers(folder: Path, n_text: int, n_video: int) -> list[dict]:
    """One answer per candidate, each from a different held-out essay; video answers with their own faces and voice."""
    import soundfile as sf

    from ..portrait.demo import demo_audio, demo_text, from_shared
    from ..video.synth import make_face_video, sample_fer_faces

    answers = []
    for i in range(n_text + n_video):
        kind = "text" if i < n_text else "video"
        answer = {"name": f"load-{kind}-{i:02d}", "kind": kind, "text": demo_text(i, n_words=80)}
        if kind == "video":
            k = i - n_text
            faces, _ = sample_fer_faces(len(EMOTIONS), split="test", seed=k,
                                        emotions=[from_shared(e, "fer2013") for e in EMOTIONS])
            answer["video"] = make_face_video(folder / f"answer-{k}.mp4", faces, fps=10, seed=k).read_bytes()
            y, sr, _ = demo_audio(EMOTIONS, seed=k)
            wav = folder / f"answer-{k}.wav"
            sf.write(wav, y, sr, subtype="PCM_16")
            answer["audio"] = wav.read_bytes()
        answers.append(answer)
    return answers


def _expected_words(text: str) -> set[str]:
    """The words the results page may list for ``text``: its content words, as the portrait counts them."""
    from ..text.predict import content_words

    tokens, _ = content_words(text, lemma=False)
    return {t for t in tokens if len(t) > 1 and re.search("[a-z]", t)}


def _page_words(page: str) -> list[str]:
    block = re.search(r'<ol class="words">(.*?)</ol>', page, re.S)
    if block is None:
        return []
    return [html.unescape(w).strip() for w in re.findall(r"<li>(.*?)\s*<span", block.group(1), re.S)]


def _candidate(base: str, answer: dict, start: threading.Barrier, deadline: float) -> dict:
    """One candidate from consent to results; a dict of times and checks (never raises)."""
    out = {"name": answer["name"], "kind": answer["kind"], "state": "not sent", "error": None}
    try:
        client = _Client(base)
        token = client.consent()
        fields = {"csrf_token": token, "question": "leadership", "name": answer["name"], "text": answer["text"],
                  "mode": "all" if answer["kind"] == "video" else "text"}
        files = {}
        if answer["kind"] == "video":
            files = {"video": ("answer.mp4", answer["video"], "video/mp4"),
                     "audio": ("answer.wav", answer["audio"], "audio/wav")}
        start.wait(timeout=REQUEST_TIMEOUT)
        out["t0"] = time.perf_counter()
        status, url, page = client.submit(fields, files)
        out["t_sent"] = time.perf_counter()
        link = urllib.parse.urlsplit(url).path
        if status != 200 or not re.fullmatch(r"/r/[A-Za-z0-9_-]{16,64}", link):
            out["state"], out["error"] = "refused", f"{status} {url}: {re.sub(r'<[^>]+>', ' ', page)[:300]}"
            return out
        out["state"] = "queued"
        while time.monotonic() < deadline:
            status, _, body = client.request(link + "/status", headers={"Accept": "application/json"})
            state = re.search(r'"state":\s*"(\w+)"', body)
            out["state"] = state.group(1) if status == 200 and state else f"HTTP {status}"
            if out["state"] not in ("queued", "running"):
                break
            time.sleep(POLL_SECONDS)
        out["t_done"] = time.perf_counter()
        if out["state"] != "done":
            out["error"] = f"state {out['state']} (deadline reached or failed)"
            if out["state"] == "failed":
                out["error"] = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", client.request(link)[2]))[-300:]
            return out
        status, _, page = client.request(link)
        title = re.search(r"<h1>(.*?)</h1>", page, re.S)
        words = _page_words(page)
        foreign = sorted(set(words) - _expected_words(answer["text"]))
        out["own_page"] = (status == 200 and title is not None
                           and html.unescape(title.group(1)).strip() == f"Your interview portrait: {answer['name']}"
                           and bool(words) and not foreign)
        if not out["own_page"]:
            out["error"] = (f"results page of another answer? title {title and title.group(1)!r}, "
                            f"foreign words {foreign[:5]}")
        if answer["kind"] == "video" and not ('id="timelines"' in page and "face emotions over time" in page
                                              and "voice emotions over time" in page):
            out["own_page"], out["error"] = False, "the results of a video answer lack the voice or face timeline"
    except Exception as exc:  # noqa: BLE001 - reported with the others, never lost
        out["error"] = f"{exc.__class__.__name__}: {exc}"
        if "t0" not in out:   # failed before the start: the others must not wait for this one
            start.abort()
    return out


def _warmup(base: str, text: str, deadline: float) -> float:
    start = time.perf_counter()
    res = _candidate(base, {"name": "warm-up", "kind": "text", "text": text}, threading.Barrier(1), deadline)
    if res["state"] != "done":
        raise MmerError(f"the warm-up answer did not complete: {res['error']}")
    return time.perf_counter() - start


# --------------------------------------------------------------------------- the benchmark


def load_test(n_text: int, n_video: int, *, deadline_seconds: float = 300.0) -> dict:
    """Start the app, warm it up, send ``n_text`` + ``n_video`` answers at once; return what was measured."""
    from ..portrait.demo import demo_text

    if n_text < 0 or n_video < 0 or n_text + n_video == 0 or n_text + n_video > 29:
        raise MmerError("the load test takes 1 to 29 answers (one held-out essay each)")
    with tempfile.TemporaryDirectory(prefix="mmer-app-load-") as tmp:
        folder = Path(tmp)
        answers = _answers(folder, n_text, n_video)
        proc, base, log = _start_server(folder)
        try:
            deadline = time.monotonic() + deadline_seconds
            warmup = _warmup(base, demo_text(29, n_words=80), deadline)
            print(f"app on {base}: warm-up answer (loads the models) {warmup:.1f} s; now {n_text} text + "
                  f"{n_video} video answers at once", flush=True)
            start = threading.Barrier(len(answers))
            results: list[dict] = [{} for _ in answers]

            def worker(i):
                results[i] = _candidate(base, answers[i], start, deadline)

            threads = [threading.Thread(target=worker, args=(i,), name=f"candidate-{i}", daemon=True)
                       for i in range(len(answers))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(max(1.0, deadline - time.monotonic()) + REQUEST_TIMEOUT)
            server_alive = proc.poll() is None
        finally:
            _stop(proc)
            server_log = _tail(log, 2000)
    return {"results": results, "warmup_seconds": warmup, "server_alive": server_alive, "server_log": server_log,
            "base": base}


def _stats(values) -> dict:
    v = np.asarray(values, float)
    return {"median": float(np.median(v)), "p90": float(np.percentile(v, 90)), "max": float(v.max())}


def run(full: bool, command: str) -> list[BenchRecord]:
    sizes = FULL if full else QUICK
    measured = load_test(sizes["text"], sizes["video"], deadline_seconds=DEADLINE[full])
    results = measured["results"]
    done = [r for r in results if r.get("state") == "done"]
    problems = [r for r in results if r.get("state") != "done" or not r.get("own_page")]
    n = len(results)
    protocol = (f"{HOST}, python -m mmer_utils.app (Werkzeug threaded server, 1 analysis worker), "
                f"{sizes['text']} text + {sizes['video']} all-three answers sent at once, status polled every "
                f"{POLL_SECONDS:g} s, models loaded before")
    extra = {"answers": n, "completed": len(done), "lost_or_failed": n - len(done),
             "mixed_up": sum(1 for r in done if not r.get("own_page")),
             "warmup_seconds": round(measured["warmup_seconds"], 2), "cpu_count": os.cpu_count(),
             "load_average_1min": round(os.getloadavg()[0], 2), "poll_seconds": POLL_SECONDS}
    records = []

    def add(model, metric, value, more=None):
        records.append(BenchRecord(chapter=CHAPTER, model=model, protocol=protocol, split="held-out answers",
                                   metric=metric, value=float(value), train_seconds=None, command=command,
                                   extra={**extra, **(more or {})}))

    if done:
        first, last = min(r["t0"] for r in results if "t0" in r), max(r["t_done"] for r in done)
        wall = last - first
        for kind in ("text", "video", "all"):
            group = [r for r in done if kind == "all" or r["kind"] == kind]
            if not group:
                continue
            model = f"{OWNED_PREFIX}: {kind} answers" if kind != "all" else f"{OWNED_PREFIX}: all answers"
            latency = _stats([r["t_done"] - r["t0"] for r in group])
            submit = _stats([r["t_sent"] - r["t0"] for r in group])
            more = {"n": len(group)}
            for key, value in latency.items():
                add(model, f"latency_{key}_s", value, more)
            for key, value in submit.items():
                add(model, f"submit_{key}_s", value, more)
            print(f"{model:<40} n={len(group):>2}  latency median {latency['median']:6.1f} s  p90 "
                  f"{latency['p90']:6.1f} s  max {latency['max']:6.1f} s   submission median "
                  f"{submit['median']:5.2f} s  max {submit['max']:5.2f} s", flush=True)
        add(f"{OWNED_PREFIX}: all answers", "answers_per_minute", 60.0 * len(done) / wall, {"wall_seconds": wall})
        print(f"{len(done)} of {n} answers done in {wall:.1f} s: {60 * len(done) / wall:.1f} answers per minute",
              flush=True)
    add(f"{OWNED_PREFIX}: all answers", "completed_rate", len(done) / n)
    if problems or not measured["server_alive"]:
        lines = [f"{r['name']}: {r.get('state')}: {r.get('error')}" for r in problems]
        if not measured["server_alive"]:
            lines.append(f"the server process died: {measured['server_log'][-500:]}")
        raise MmerError(f"{len(problems)} of {n} answers lost, failed or mixed up: " + "; ".join(lines[:8]))
    return records
