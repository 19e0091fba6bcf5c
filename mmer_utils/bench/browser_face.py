"""``python -m mmer_utils.bench browser-face``: the face models in headless Chromium, beside Python.

What the interview simulator's live overlay does on every analysed frame, measured in a real
browser (Debian's ``chromium`` + ``chromium-driver``, driven by Selenium) on this machine:
YuNet finds the faces and the shipped face model reads them, both ONNX files run by
onnxruntime-web (WebAssembly, one thread) from ``static/live_face.js``. The camera is
Chromium's fake capture device playing a 640x480 YUV4MPEG2 video of FER2013 PrivateTest faces
pasted on a background; the page analyses its frames one after the other, as fast as it can,
for a fixed time. Beside it, the Python pipeline (:class:`~mmer_utils.video.predict.FaceEmotionModel`:
OpenCV's YuNet + the Keras model, the app's server-side analysis) on the same frames, decoded
from the same video.

Records (chapter ``browser``, ``results/browser.json``): frames/s of detection + classification
in the browser (one wasm thread, two threads, and one thread detecting on a 320-px copy) and in
Python (one process; frames at most 640 px, and at most 320 px), and the share of frames with a
face for each. Quick mode: 5 s of browser frames, 30 Python frames, nothing saved; ``--full``:
30 s and 150 frames.

The helpers :func:`start_app` and :func:`chromium` are also used by the browser tests.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from ..errors import MmerError
from ..results import BenchRecord

CHAPTER = "browser"
OWNED_PREFIX = "face in the browser"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
QUICK = {"browser_seconds": 5, "python_frames": 30}
FULL = {"browser_seconds": 30, "python_frames": 150}
FPS = 10


class BrowserMissingError(MmerError, RuntimeError):
    """No headless Chromium, driver, Selenium or vendored runtime to measure with."""


def browser_problem() -> str | None:
    """None when Chromium, its driver, Selenium and the vendored runtime are all here, else why not (one line)."""
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        return (f"needs {CHROMIUM} and {CHROMEDRIVER} (Debian packages chromium and chromium-driver: "
                "apt-get install -y chromium chromium-driver)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "needs Selenium: pip install selenium"
    from ..app.vendor import status

    return status()


@contextlib.contextmanager
def start_app(folder, config: dict | None = None):
    """The app on a free port of 127.0.0.1 in a thread (Werkzeug's threaded server); yields ``(app, base_url)``."""
    from werkzeug.serving import make_server

    from ..app import create_app

    folder = Path(folder)
    cfg = {"DATABASE": folder / "app.sqlite", "RECRUITER_PASSWORD": None, "RESUME_JOBS": False}
    cfg.update(config or {})
    app = create_app(cfg)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, name="browser-app", daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        thread.join(10)
        app.extensions["mmer"]["runner"].shutdown()


def chromium(profile, *, y4m=None, wav=None, size=(1280, 1000)):
    """A headless Chromium driven by Selenium through Debian's chromedriver (never downloaded).

    ``y4m`` / ``wav``: files for the fake camera and microphone.
    """
    problem = browser_problem()
    if problem:
        raise BrowserMissingError(problem)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    args = ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-proxy-server",
            "--no-first-run", f"--window-size={size[0]},{size[1]}", f"--user-data-dir={profile}",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            # a hidden or background tab must not slow the page's timers while it is measured
            "--disable-background-timer-throttling", "--disable-renderer-backgrounding"]
    if y4m is not None:
        args.append(f"--use-file-for-fake-video-capture={y4m}")
    if wav is not None:
        args.append(f"--use-file-for-fake-audio-capture={wav}")
    for arg in args:
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(120)
    return driver


def open_check_page(driver, base: str, timeout: float = 60, *, threads: int = 0) -> None:
    """Open ``/browser/check`` and wait until the models are loaded (``window.mmerCheck``);
    ``threads``: onnxruntime-web's threads (0: its default, up to 4 on a cross-origin-isolated page)."""
    driver.get(base + "/browser/check" + (f"?threads={int(threads)}" if threads else ""))
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        state = driver.execute_script("var s = document.getElementById('check-status');"
                                      "return s ? [s.getAttribute('data-state'), s.textContent] : null")
        if state and state[0] == "ready":
            return
        if state and state[0] in ("failed", "off"):
            raise BrowserMissingError(f"the check page says: {state[1].strip()}")
        time.sleep(0.2)
    raise BrowserMissingError(f"the models did not load in the browser within {timeout:.0f} s")


# --------------------------------------------------------------------------- the fake camera


def bgr_to_i420(image: np.ndarray) -> list[np.ndarray]:
    """The Y, U, V planes (4:2:0, BT.601 studio range) of a BGR image with even sides."""
    f = image.astype(np.float32)
    b, g, r = f[..., 0], f[..., 1], f[..., 2]
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255

    def half(c):
        return c.reshape(c.shape[0] // 2, 2, c.shape[1] // 2, 2).mean(axis=(1, 3))

    return [np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in (y, half(u), half(v))]


def write_y4m(path, frames, fps: int = FPS) -> Path:
    """A plain YUV4MPEG2 file (4:2:0), what Chromium's fake camera plays in a loop."""
    frames = list(frames)
    h, w = frames[0].shape[:2]
    with open(path, "wb") as fh:
        fh.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for frame in frames:
            fh.write(b"FRAME\n")
            for plane in bgr_to_i420(frame):
                fh.write(plane.tobytes())
    return Path(path)


def face_frames(n_faces: int = 6, *, seconds_each: float = 1.0, seed: int = 1, jitter: int = 0) -> list[np.ndarray]:
    """640x480 BGR frames: FER2013 PrivateTest faces pasted on a background, ``seconds_each`` at :data:`FPS`."""
    from ..video.synth import make_face_photo, sample_fer_faces

    faces, _ = sample_fer_faces(n_faces, split="test", seed=seed)
    frames = []
    for k, face in enumerate(faces):
        photo, _ = make_face_photo(face[None], jitter=jitter, seed=seed + k)
        frames += [photo] * max(1, int(round(seconds_each * FPS)))
    return frames


# --------------------------------------------------------------------------- the measures


_BROWSER_LOOP = """
var seconds = arguments[0], done = arguments[arguments.length - 1];
var model = window.mmerCheck, video = document.createElement('video');
model.maxSide = arguments[1] || 640;
video.muted = true; video.playsInline = true;
navigator.mediaDevices.getUserMedia({video: {width: {exact: 640}, height: {exact: 480}}, audio: false}).then(function (s) {
  video.srcObject = s; return video.play();
}).then(async function () {
  while (video.readyState < 2 || !video.videoWidth) { await new Promise(function (r) { setTimeout(r, 20); }); }
  for (var w = 0; w < 3; w++) { await model.analyse(model.grab(video, video.videoWidth, video.videoHeight)); }
  var n = 0, withFace = 0, det = 0, t0 = performance.now(), end = t0 + 1000 * seconds;
  while (performance.now() < end) {
    var frame = model.grab(video, video.videoWidth, video.videoHeight);
    var faces = await model.analyse(frame);
    n += 1; if (faces.length) { withFace += 1; }
  }
  var wall = (performance.now() - t0) / 1000;
  var t1 = performance.now(), m = 0;
  var still = model.grab(video, video.videoWidth, video.videoHeight);
  while (performance.now() - t1 < Math.max(2000, 1000 * seconds / 3)) { await model.detect(still); m += 1; }
  det = m / ((performance.now() - t1) / 1000);
  video.srcObject.getTracks().forEach(function (t) { t.stop(); });
  done({frames: n, with_face: withFace, seconds: wall, width: still.width, height: still.height, detect_fps: det,
        user_agent: navigator.userAgent, ort: ort.env.versions ? ort.env.versions.web : null});
}).catch(function (e) { done({error: String(e && e.message || e)}); });
"""


def measure_browser(driver, base: str, seconds: float, *, threads: int = 0, max_side: int = 640) -> dict:
    """Frames/s of detection + classification of the fake camera's frames in the page (one after the other)."""
    open_check_page(driver, base, threads=threads)
    driver.set_script_timeout(seconds + 90)
    out = driver.execute_async_script(_BROWSER_LOOP, seconds, max_side)
    if out.get("error"):
        raise BrowserMissingError(f"the browser could not analyse the camera's frames: {out['error']}")
    out["threads"] = int(driver.execute_script("return ort.env.wasm.numThreads"))
    out["max_side"] = max_side
    return out


def measure_python(frames: list[np.ndarray], n: int, *, max_side: int = 640) -> dict:
    """Frames/s of the Python pipeline (YuNet in OpenCV + the Keras face model) on the same frames."""
    from .. import config
    from ..video.predict import FaceEmotionModel

    config.import_tensorflow_quietly()
    model = FaceEmotionModel.load_pretrained(max_side=max_side)
    for frame in frames[:3]:
        model.analyse_image(frame)   # builds the detector and warms the model up, outside the timing
    with_face, start = 0, time.perf_counter()
    for k in range(n):
        with_face += len(model.analyse_image(frames[k % len(frames)])) > 0
    wall = time.perf_counter() - start
    return {"frames": n, "with_face": with_face, "seconds": wall, "detector": model.detector}


def run(full: bool, command: str) -> list[BenchRecord]:
    problem = browser_problem()
    if problem:
        raise BrowserMissingError(f"the browser benchmark {problem}")
    setting = FULL if full else QUICK
    frames = face_frames(6)
    records = []
    with tempfile.TemporaryDirectory(prefix="mmer-browser-bench-") as tmp:
        tmp = Path(tmp)
        y4m = write_y4m(tmp / "camera.y4m", frames)
        saved = os.environ.get("MMER_CACHE_DIR")
        os.environ["MMER_CACHE_DIR"] = str(tmp / "cache")
        try:
            with start_app(tmp) as (_, base):
                driver = chromium(tmp / "profile", y4m=y4m)
                try:
                    browser = [measure_browser(driver, base, setting["browser_seconds"], threads=1),
                               measure_browser(driver, base, setting["browser_seconds"], threads=2),
                               measure_browser(driver, base, setting["browser_seconds"], threads=1, max_side=320)]
                finally:
                    driver.quit()
        finally:
            if saved is None:
                os.environ.pop("MMER_CACHE_DIR", None)
            else:
                os.environ["MMER_CACHE_DIR"] = saved
    python = [measure_python(frames, setting["python_frames"]),
              measure_python(frames, setting["python_frames"], max_side=320)]
    protocol = "640x480 fake camera, FER2013 PrivateTest faces on a background"

    def add(model, metric, value, extra):
        records.append(BenchRecord(chapter=CHAPTER, model=f"{OWNED_PREFIX}: {model}", protocol=protocol,
                                   split="6 faces, 1 s each", metric=metric, value=float(value),
                                   train_seconds=None, command=command, extra=extra))

    for b in browser:
        threads = f"{b['threads']} thread{'s' if b['threads'] != 1 else ''}"
        b_extra = {"frames": b["frames"], "seconds": round(b["seconds"], 2), "frames_with_face": b["with_face"],
                   "runtime": f"onnxruntime-web {b.get('ort') or ''} (wasm, {threads}), headless Chromium",
                   "user_agent": b.get("user_agent")}
        side = "" if b["max_side"] == 640 else f", detection at {b['max_side']} px"
        name = f"browser, {threads}{side} (YuNet + face model, onnxruntime-web)"
        add(name, "frames_per_second", b["frames"] / b["seconds"], b_extra)
        add(name, "face_found_rate", b["with_face"] / max(1, b["frames"]), b_extra)
        add(f"browser detection only, {threads}{side} (YuNet, onnxruntime-web)", "frames_per_second",
            b["detect_fps"], {})
    for p, side in zip(python, (640, 320)):
        p_extra = {"frames": p["frames"], "seconds": round(p["seconds"], 2), "frames_with_face": p["with_face"],
                   "runtime": f"OpenCV FaceDetectorYN ({p['detector']}) + Keras, one Python process"}
        name = "Python pipeline (FaceEmotionModel.analyse_image" + ("" if side == 640 else ", max_side=320") + ")"
        add(name, "frames_per_second", p["frames"] / p["seconds"], p_extra)
        add(name, "face_found_rate", p["with_face"] / max(1, p["frames"]), p_extra)
    return records
