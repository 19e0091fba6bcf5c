"""The interview simulator end to end in a real, headless Chromium (Selenium), on real data.

The browser's camera and microphone are files (Chromium's fake capture devices): a YUV4MPEG2
video of FER2013 PrivateTest faces pasted on a background, one face a second, and a WAV of
held-out RAVDESS sentences (actor 24). The app runs in a thread of this process on a free
port of 127.0.0.1, with a temporary database and cache, the shipped models and a recruiter
password. One candidate goes through every page: consent, "all three", the in-browser
recorder (countdown, recording, stop), a typed answer, the progress page, the results with
every section; the recruiter logs in and finds them; the candidate deletes their data and the
private link becomes a 404. An earlier candidate (a typed answer, sent with Flask's test
client) gives the comparison something to compare with.

Each step saves a screenshot under ``build/screenshots/`` (``e2e-NN-step.png``).

Needs Debian's ``chromium`` and ``chromium-driver`` (``/usr/bin/chromium``,
``/usr/bin/chromedriver``; ``.ci/run`` installs them) and Selenium (PyPI). The driver is
given by path, so Selenium never downloads one. Without them the test skips locally and
fails in CI (``MMER_REQUIRE_DATA=1`` or ``CI`` set).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, REQUIRE_DATA, real_dataset
from mmer_utils.video.y4m import write_y4m

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = REPO / "build" / "screenshots"
STRICT = REQUIRE_DATA or bool(os.environ.get("CI"))
PASSWORD = "a long class password for the e2e test"
NAME = "Ada E2E"
EARLIER = "Earlier Candidate"
EMOTIONS = ("happy", "angry", "happy", "sad")      # of the faces (one a second) and of the voice's sentences
FPS = 10
RECORD_SECONDS = 7                                 # how long the browser records
WAIT = 30                                          # seconds, for any page or element
ANALYSIS_WAIT = 420                                # seconds, for the analyses (the models load first)


def _missing(message: str):
    """Absent browser or Selenium: a failure in CI (never a silent skip), a skip with the reason locally."""
    if STRICT:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _need_browser():
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        _missing(f"the end-to-end test needs {CHROMIUM} and {CHROMEDRIVER} (Debian packages chromium and "
                 "chromium-driver): .ci/run installs them; by hand: apt-get install -y chromium chromium-driver")
    try:
        import selenium  # noqa: F401
    except ImportError:
        _missing("the end-to-end test needs Selenium: pip install -e '.[dev]' (or pip install selenium)")


# --------------------------------------------------------------------------- the fake camera and microphone


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """answer.y4m (FER2013 PrivateTest faces), answer.wav (held-out RAVDESS sentences), two typed answers."""
    _need_browser()
    for name in ("fer2013", "ravdess", "essays"):
        real_dataset(name)
    import soundfile as sf

    from mmer_utils.portrait.demo import demo_audio, demo_text, from_shared
    from mmer_utils.video.synth import make_face_photo, sample_fer_faces

    folder = tmp_path_factory.mktemp("e2e-media")
    faces, _ = sample_fer_faces(len(EMOTIONS), split="test", seed=1,
                                emotions=[from_shared(e, "fer2013") for e in EMOTIONS])
    frames = []
    for face in faces:   # one face a second, on the same background
        photo, _ = make_face_photo(face[None], jitter=0, seed=0)
        frames += [photo] * FPS
    y, sr, _ = demo_audio(EMOTIONS)
    wav = folder / "answer.wav"
    sf.write(wav, y, sr, subtype="PCM_16")
    return {"y4m": write_y4m(folder / "answer.y4m", frames), "wav": wav,
            "text": demo_text(1, n_words=90), "earlier": demo_text(2, n_words=90)}


# --------------------------------------------------------------------------- the app and the browser


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on a free port of 127.0.0.1 (Werkzeug's threaded server in a thread), shipped models."""
    for name in ("meld", "essays", "nltk_data"):
        real_dataset(name)
    from werkzeug.serving import make_server

    from mmer_utils.app import create_app

    folder = tmp_path_factory.mktemp("e2e-app")
    saved = os.environ.get("MMER_CACHE_DIR")
    os.environ["MMER_CACHE_DIR"] = str(folder / "cache")
    app = create_app({"DATABASE": folder / "app.sqlite", "RECRUITER_PASSWORD": PASSWORD,
                      "MAX_RECORDING_SECONDS": 60})
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, name="e2e-server", daemon=True)
    thread.start()
    try:
        yield {"app": app, "url": f"http://127.0.0.1:{httpd.server_port}"}
    finally:
        httpd.shutdown()
        thread.join(10)
        app.extensions["mmer"]["runner"].shutdown()
        if saved is None:
            os.environ.pop("MMER_CACHE_DIR", None)
        else:
            os.environ["MMER_CACHE_DIR"] = saved


@pytest.fixture(scope="module")
def browser(media, tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--no-proxy-server", "--no-first-run", "--window-size=1280,1000",
                f"--user-data-dir={tmp_path_factory.mktemp('e2e-profile')}",
                "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={media['y4m']}",
                f"--use-file-for-fake-audio-capture={media['wav']}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


# --------------------------------------------------------------------------- helpers


def _wait(driver, condition, timeout=WAIT, what="the page"):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2).until(condition)
    except TimeoutException:
        try:
            shoot(driver, "timeout")
            body = driver.find_element("tag name", "body").text[:600]
        except Exception as exc:  # noqa: BLE001 - the browser itself is gone: say so instead
            body = f"(no page: {exc.__class__.__name__})"
        pytest.fail(f"{what} did not come within {timeout} s (at {driver.current_url}): {body!r}", pytrace=False)


def _element(driver, css, timeout=WAIT):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    return _wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, css)), timeout, what=css)


def _text(driver, css) -> str:
    return driver.find_element("css selector", css).text


def _click(driver, css):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    _wait(driver, ec.element_to_be_clickable((By.CSS_SELECTOR, css)), what=f"a clickable {css}").click()


def _open(driver, url, css):
    driver.get(url)
    return _element(driver, css)


_SHOTS: list[str] = []


def shoot(driver, step: str) -> Path:
    """A screenshot of the whole page (the window is stretched to the page's height for it)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if not _SHOTS:   # a fresh set for this run
        for old in SCREENSHOTS.glob("e2e-*.png"):
            old.unlink()
    _SHOTS.append(step)
    path = SCREENSHOTS / f"e2e-{len(_SHOTS):02d}-{step}.png"
    height = driver.execute_script("return Math.max(document.body.scrollHeight, "
                                   "document.documentElement.scrollHeight)")
    driver.set_window_size(1280, int(min(max(height + 140, 1000), 9000)))
    time.sleep(0.3)
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 1000)
    return path


def _images_loaded(driver) -> bool:
    return driver.execute_script("return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")


def _http_status(url: str) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))   # loopback: never through a proxy
    try:
        with opener.open(url, timeout=WAIT) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _earlier_candidate(app, text: str) -> str:
    """A typed answer sent with Flask's test client before the browser's candidate; its private link."""
    client = app.test_client()
    page = client.get("/consent").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/consent", data={"csrf_token": token, "agree": "yes", "agree_sensitive": "yes"}
                       ).status_code == 303
    r = client.post("/answer", data={"csrf_token": token, "mode": "text", "question": "leadership",
                                     "name": EARLIER, "text": text})
    assert r.status_code == 303, r.text[:2000]
    return r.headers["Location"]


# --------------------------------------------------------------------------- the test


@pytest.mark.data
def test_a_candidate_in_a_real_browser(media, server, browser):
    started = time.perf_counter()
    app, base, d = server["app"], server["url"], browser
    ext = app.extensions["mmer"]
    # an earlier candidate (text only): the first analysis loads the models while the browser works
    earlier_link = _earlier_candidate(app, media["earlier"])

    # 1. home, consent
    _open(d, base + "/", "a.button")
    assert "Practise a job interview" in _text(d, "h1")
    shoot(d, "home")
    _click(d, "main a.button")
    _element(d, "input[name=agree_sensitive]")
    assert "what happens to your answer" in _text(d, "h1")
    shoot(d, "consent")
    d.find_element("name", "agree").click()
    d.find_element("name", "agree_sensitive").click()
    _click(d, "main form button[type=submit]")

    # 2. choose "all three" and a question
    _element(d, "input[name=mode][value=all]")
    assert d.current_url.endswith("/interview")
    d.find_element("css selector", "input[name=mode][value=all]").click()
    d.find_element("css selector", "input[name=question][value=leadership]").click()
    shoot(d, "choose")
    _click(d, "main form[method=get] button[type=submit]")

    # 3. the answer: name, typed text, then the video with sound, recorded in the browser
    _element(d, "fieldset.recorder[data-kind=video] .rec-ui:not([hidden]) [data-action=start]")
    assert _text(d, "h1") == "All three" and "leadership" in _text(d, "blockquote.question")
    d.find_element("name", "name").send_keys(NAME)
    d.find_element("id", "text").send_keys(media["text"])
    _click(d, "fieldset.recorder [data-action=start]")
    status = "fieldset.recorder .rec-status"
    _wait(d, lambda drv: "Recording starts in" in _text(drv, status) or "Recording…" in _text(drv, status),
          what="the countdown")
    shoot(d, "countdown")

    def recorded_enough(drv):
        m = re.search(r"Recording… (\d+) s", _text(drv, status))
        return m is not None and int(m.group(1)) >= RECORD_SECONDS
    _wait(d, recorded_enough, timeout=RECORD_SECONDS + 40, what=f"{RECORD_SECONDS} s of recording")
    assert d.execute_script("var v = document.querySelector('.rec-live');"
                            "return !v.hidden && v.videoWidth === 640 && v.videoHeight === 480")
    shoot(d, "recording")
    _click(d, "fieldset.recorder [data-action=stop]")
    _wait(d, lambda drv: _text(drv, status).startswith("Recorded "), what="the end of the recording")
    name, size, kind = d.execute_script("var f = document.getElementById('video-file').files[0];"
                                        "return [f.name, f.size, f.type]")
    assert name == "video-recording.webm" and kind == "video/webm" and size > 50_000, (name, size, kind)
    assert d.execute_script("return !document.querySelector('.rec-preview').hidden")
    shoot(d, "recorded")
    _click(d, "#answer-form button[type=submit]")

    # 4. the progress page (the models load, the earlier candidate goes first)
    _wait(d, lambda drv: re.search(r"/r/[A-Za-z0-9_-]{32}$", drv.current_url), timeout=90,
          what="the private link after sending the answer")
    link = d.current_url
    token = link.rsplit("/", 1)[1]
    row = ext["db"].get(token)
    assert row["mode"] == "all" and row["name"] == NAME, row
    assert row["inputs"]["text"] == "typed text" and row["inputs"]["video"].startswith("video, ")
    assert row["inputs"]["audio"].startswith("sound of the video, "), row["inputs"]
    if row["state"] in ("queued", "running"):
        _element(d, "#progress")
        assert _text(d, "h1") == "Analysing your answer" and token in _text(d, "code.link-box")
        shoot(d, "progress")

    # 5. the results (progress.js reloads the page when the analysis is done)
    def finished(drv):
        return drv.find_elements("id", "your-data") or drv.title.startswith("The analysis failed")
    _wait(d, finished, timeout=ANALYSIS_WAIT, what="the results")
    assert not d.title.startswith("The analysis failed"), _text(d, "main")
    _wait(d, _images_loaded, what="the figures")
    assert _text(d, "h1") == f"Your interview portrait: {NAME}"
    for section in ("traits", "timelines", "most-frequent", "combined", "text", "standing", "your-data"):
        assert d.find_elements("id", section), section
    shoot(d, "results")
    alts = {img.get_attribute("alt") for img in d.find_elements("css selector", "main img")}
    assert {"Big Five bars", "voice emotions over time", "face emotions over time", "combined estimate",
            "text emotion"} <= alts, alts
    assert not d.find_elements("css selector", "#timelines .missing, #combined .missing, #traits .missing")
    frequent = [tr.find_elements("tag name", "td")[0].text
                for tr in d.find_elements("css selector", "#most-frequent tbody tr")]
    assert sorted(frequent) == ["face", "text", "voice"], frequent
    assert re.search(r"Combined estimate: \w+ \(probability 0\.\d+\)", _text(d, "#combined"))
    typed = set(re.findall(r"[a-z']+", media["text"].lower()))
    words = [li.text.split()[0] for li in d.find_elements("css selector", "#text ol.words li")]
    assert words and set(words) <= typed, (words, typed)
    standing = _text(d, "#standing")
    assert "Compared with the 1 candidate before this one" in standing, standing
    assert {"comparison trait", "comparison combined"} <= alts
    s = ext["db"].get(token)["summary"]
    assert s["face"]["frames_with_face"] > 0 and s["voice"]["speech_windows"] > 0, (s["face"], s["voice"])
    assert s["voice"]["seconds"] >= RECORD_SECONDS - 1

    # 6. the recruiter logs in (another session: cookies dropped) and finds this candidate
    d.delete_all_cookies()
    _open(d, base + "/recruiter/", "input[name=password]")
    shoot(d, "recruiter-login")
    d.find_element("name", "password").send_keys(PASSWORD)
    _click(d, "main form button[type=submit]")
    _element(d, "table.list")
    rows = {tr.find_elements("tag name", "td")[2].text: tr
            for tr in d.find_elements("css selector", "table.list tbody tr")}
    assert set(rows) == {NAME, EARLIER}, set(rows)
    assert "All three" in rows[NAME].text
    shoot(d, "recruiter-list")
    for tr in rows.values():
        tr.find_element("css selector", "input[name=ids]").click()
    _click(d, "form[action$='/recruiter/compare'] button[type=submit]")
    _element(d, "table.compare")
    _wait(d, _images_loaded, what="the comparison's figures")
    assert NAME in _text(d, "table.compare thead") and EARLIER in _text(d, "table.compare thead")
    shoot(d, "recruiter-compare")
    d.find_element("link text", f"#{row['id']} {NAME}").click()
    _element(d, "#traits")
    _wait(d, _images_loaded, what="the candidate's figures")
    assert _text(d, "h1") == f"Candidate #{row['id']}: {NAME}"
    shoot(d, "recruiter-candidate")
    _click(d, "header form button[type=submit]")          # log out
    _element(d, "main a.button")

    # 7. the candidate deletes their data; the private link is a 404 from then on
    d.delete_all_cookies()
    _open(d, link, "#your-data a.danger")
    _click(d, "#your-data a.danger")
    _element(d, "main form button.danger")
    assert _text(d, "h1") == "Delete my data"
    shoot(d, "delete")
    _click(d, "main form button.danger")
    _wait(d, lambda drv: drv.current_url.endswith("/deleted"), what="the confirmation of the deletion")
    assert _text(d, "h1") == "Your data was deleted"
    shoot(d, "deleted")
    _open(d, link, "h1")
    assert _text(d, "h1") == "Page not found"
    shoot(d, "link-gone")
    for path in ("", "/status", "/figures/traits.png", "/report.zip"):
        assert _http_status(link + path) == 404, path
    assert ext["db"].get(token) is None and not ext["files"].folder(token).exists()
    assert _http_status(base + earlier_link) == 200      # the other candidate is untouched
    assert [r["name"] for r in ext["db"].done()] == [EARLIER]
    print(f"end-to-end: {time.perf_counter() - started:.0f} s, {len(_SHOTS)} screenshots in {SCREENSHOTS}")


def _live_ready(driver, timeout=90):
    """Wait until the answer page's in-browser face models are loaded (or say why they are not)."""
    def state(drv):
        return drv.execute_script("var b = document.querySelector('fieldset.recorder[data-kind=video]');"
                                  "return b && b.getAttribute('data-live')") in ("ready", "failed")
    _wait(driver, state, timeout=timeout, what="the in-browser face models")
    live = driver.execute_script("return document.querySelector('fieldset.recorder[data-kind=video]')"
                                 ".getAttribute('data-live')")
    assert live == "ready", _text(driver, ".live-note")
    # the models run in a Web Worker (onnxruntime-web's proxy): the page's own thread never waits for them
    assert driver.execute_script("return ort.env.wasm.proxy === true")


def _record_with_overlay(driver, seconds: int, shot: str):
    """Record ``seconds`` of video with the live overlay on; check that it found and read faces while recording."""
    box = "fieldset.recorder[data-kind=video]"
    status = box + " .rec-status"
    _click(driver, box + " [data-action=start]")

    def recorded_enough(drv):
        m = re.search(r"Recording… (\d+) s", _text(drv, status))
        return m is not None and int(m.group(1)) >= seconds
    _wait(driver, recorded_enough, timeout=seconds + 40, what=f"{seconds} s of recording")
    _wait(driver, lambda drv: int(drv.find_element("css selector", box).get_attribute("data-live-faces") or 0) >= 2,
          what="faces found by the live overlay")
    emotion = driver.find_element("css selector", box).get_attribute("data-live-emotion")
    assert emotion in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"), emotion
    # the box and its label are drawn over the preview; the strip's bars moved
    drawn = driver.execute_script("var c = document.querySelector('.live-overlay');"
                                  "var d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                                  "for (var i = 3; i < d.length; i += 4) { if (d[i]) { return true; } } return false;")
    assert drawn
    widths = driver.execute_script("return Array.from(document.querySelectorAll('.live-bar'))"
                                   ".map(function (b) { return parseFloat(b.style.width) || 0; })")
    assert len(widths) == 7 and 95 <= sum(widths) <= 105, widths
    shoot(driver, shot)
    _click(driver, box + " [data-action=stop]")
    _wait(driver, lambda drv: _text(drv, status).startswith("Recorded "), what="the end of the recording")
    return json.loads(driver.find_element("id", "face-json").get_attribute("value") or "null")


@pytest.mark.data
def test_live_face_overlay_and_private_mode_in_a_real_browser(media, server, browser):
    """The video interview twice: recorded with the live overlay and sent as a video; then in private
    mode, where only the browser's face emotions are sent (the server's log of the request proves it)."""
    from mmer_utils.bench.browser_face import browser_problem

    problem = browser_problem()
    if problem:
        _missing(f"the live overlay and private mode {problem}")
    app, base, d = server["app"], server["url"], browser
    ext = app.extensions["mmer"]
    received = []
    inner = app.wsgi_app

    def log_answers(environ, start_response):   # every byte of every answer sent, as the server received it
        if environ["PATH_INFO"] == "/answer" and environ["REQUEST_METHOD"] == "POST":
            import io

            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            received.append(body)
            environ["wsgi.input"] = io.BytesIO(body)
        return inner(environ, start_response)

    app.wsgi_app = log_answers
    try:
        d.delete_all_cookies()
        _open(d, base + "/consent", "input[name=agree_sensitive]")
        d.find_element("name", "agree").click()
        d.find_element("name", "agree_sensitive").click()
        _click(d, "main form button[type=submit]")
        _element(d, "input[name=mode][value=video]")
        links = {}
        for private in (False, True):
            _open(d, base + "/answer?mode=video&question=leadership", "fieldset.recorder[data-kind=video]")
            _live_ready(d)
            d.find_element("name", "name").send_keys("Private Pat" if private else "Live Lou")
            if private:
                d.find_element("id", "private-mode").click()
            doc = _record_with_overlay(d, 5, "private-recording" if private else "live-overlay")
            assert doc["labels"] == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
            assert doc["frames"] >= 3 and len(doc["records"]) >= 2 and doc["seconds"] >= 4
            if private:
                assert "a face in" in _text(d, ".live-note")
                shoot(d, "private-recorded")
            _click(d, "#answer-form button[type=submit]")
            _wait(d, lambda drv: re.search(r"/r/[A-Za-z0-9_-]{32}$", drv.current_url), timeout=90,
                  what="the private link after sending the answer")
            links[private] = d.current_url
            body = received[-1]
            if private:   # no file part at all: the video never left the browser
                assert b"filename=" not in body and b"video/webm" not in body and b"\x1aE\xdf\xa3" not in body
                assert b'name="face_json"' in body and len(body) < 200_000, len(body)
            else:
                assert b'filename="video-recording.webm"' in body and b"\x1aE\xdf\xa3" in body

        for private, link in links.items():
            d.get(link)

            def finished(drv):
                return drv.find_elements("id", "your-data") or drv.title.startswith("The analysis failed")
            _wait(d, finished, timeout=ANALYSIS_WAIT, what="the results")
            assert not d.title.startswith("The analysis failed"), _text(d, "main")
            _wait(d, _images_loaded, what="the figures")
            alts = {img.get_attribute("alt") for img in d.find_elements("css selector", "main img")}
            assert "face emotions over time" in alts, alts
            frequent = [tr.find_elements("tag name", "td")[0].text
                        for tr in d.find_elements("css selector", "#most-frequent tbody tr")]
            assert frequent == ["face"], frequent
            shoot(d, "private-results" if private else "live-results")
            row = ext["db"].get(link.rsplit("/", 1)[1])
            assert row["summary"]["face"]["frames_with_face"] > 0, row["summary"]
            if private:
                assert set(row["inputs"]) == {"face"} and "private mode" in row["inputs"]["face"], row["inputs"]
            else:
                assert set(row["inputs"]) == {"video"}, row["inputs"]
        for link in links.values():   # leave nothing behind
            ext["runner"].delete(link.rsplit("/", 1)[1])
    finally:
        app.wsgi_app = inner


def test_y4m_writer(tmp_path):
    """The fake camera's file: header, one FRAME per image, Y then U then V planes at 4:2:0."""
    frames = [np.full((4, 6, 3), (255, 0, 0), np.uint8), np.zeros((4, 6, 3), np.uint8)]
    data = write_y4m(tmp_path / "x.y4m", frames, fps=12).read_bytes()
    header, rest = data.split(b"\n", 1)
    assert header == b"YUV4MPEG2 W6 H4 F12:1 Ip A1:1 C420jpeg"
    size = 6 * 4 + 2 * 3 * 2
    assert rest.count(b"FRAME\n") == 2 and len(rest) == 2 * (len(b"FRAME\n") + size)
    first = np.frombuffer(rest[6:6 + size], np.uint8)
    assert set(first[:24]) == {41} and set(first[24:30]) == {240} and set(first[30:36]) == {110}   # pure blue


# --------------------------------------------------------------------------- the load benchmark's quick mode


@pytest.mark.data
def test_the_load_benchmark_quick_mode_completes_every_answer():
    """`python -m mmer_utils.bench app-load` (quick): every answer done, each results page its own.

    A benchmark, not a timed test: no timing is asserted."""
    for name in ("fer2013", "ravdess", "essays", "meld", "nltk_data"):
        real_dataset(name)
    from mmer_utils.bench import CHAPTERS, app_load

    assert CHAPTERS["app-load"] == "mmer_utils.bench.app_load:run"
    records = app_load.run(full=False, command="python -m mmer_utils.bench app-load")
    by_metric = {(r.model, r.metric): r for r in records}
    n = app_load.QUICK["text"] + app_load.QUICK["video"]
    assert by_metric[("interview simulator: all answers", "completed_rate")].value == 1.0
    extra = records[0].extra
    assert extra["answers"] == extra["completed"] == n and extra["lost_or_failed"] == extra["mixed_up"] == 0
    for kind in ("text", "video", "all"):
        for metric in ("latency_median_s", "latency_p90_s", "latency_max_s", "submit_median_s"):
            assert by_metric[(f"interview simulator: {kind} answers", metric)].value > 0, (kind, metric)
    assert by_metric[("interview simulator: all answers", "answers_per_minute")].value > 0
    assert {r.chapter for r in records} == {"app"} and all(r.protocol.startswith("127.0.0.1, ") for r in records)


def test_the_load_benchmark_reads_the_words_of_a_results_page():
    from mmer_utils.bench.app_load import _page_words

    page = ('<ol class="words"><li>team <span class="muted">×3</span></li>'
            '<li>o&#39;clock <span class="muted">×1</span></li></ol>')
    assert _page_words(page) == ["team", "o'clock"] and _page_words("<p>no words</p>") == []
