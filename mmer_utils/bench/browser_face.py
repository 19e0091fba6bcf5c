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

Records (chapter ``browser``, ``results/browser.json``): the parity of the browser and Python
(:func:`classifier_parity`: the face model on 200 FER2013 PrivateTest faces; :func:`detection_parity`:
detection + classification on a 30-frame test video, at 640 and 320 px), then frames/s of
detection + classification
in the browser (one wasm thread, two threads, one thread detecting on a 320-px copy, and that
in a Web Worker as the live overlay runs it) and in
Python (one process; frames at most 640 px, and at most 320 px), and the share of frames with a
face for each; for the browser also how often a 10-ms timer of the page ran meanwhile
(``page_timer_ticks_per_second``, 100 when the page's thread is free: what the recorder's
buttons and timers get while the models work). Quick mode: 5 s of browser frames, 30 Python frames, nothing saved; ``--full``:
30 s and 150 frames.

The helpers :func:`start_app` and :func:`chromium` are also used by the browser tests.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from ..errors import MmerError
from ..results import BenchRecord
from ..video.y4m import write_y4m

CHAPTER = "browser"
OWNED_PREFIX = "face in the browser"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
QUICK = {"browser_seconds": 5, "python_frames": 30, "parity_faces": 50, "parity_per_face": 2}
FULL = {"browser_seconds": 30, "python_frames": 150, "parity_faces": 200, "parity_per_face": 5}
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


def open_check_page(driver, base: str, timeout: float = 60, *, threads: int = 0, worker: bool = False) -> None:
    """Open ``/browser/check`` and wait until the models are loaded (``window.mmerCheck``);
    ``threads``: onnxruntime-web's threads (0: the page's default); ``worker``: run them in a Web
    Worker (onnxruntime-web's proxy, as the answer page's live overlay does)."""
    driver.get(base + f"/browser/check?threads={int(threads)}&proxy={int(bool(worker))}")
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


def face_frames(n_faces: int = 6, *, seconds_each: float = 1.0, seed: int = 1, jitter: int = 0) -> list[np.ndarray]:
    """640x480 BGR frames: FER2013 PrivateTest faces pasted on a background, ``seconds_each`` at :data:`FPS`."""
    from ..video.synth import make_face_photo, sample_fer_faces

    faces, _ = sample_fer_faces(n_faces, split="test", seed=seed)
    frames = []
    for k, face in enumerate(faces):
        photo, _ = make_face_photo(face[None], jitter=jitter, seed=seed + k)
        frames += [photo] * max(1, int(round(seconds_each * FPS)))
    return frames


# --------------------------------------------------------------------------- parity with Python


_CLASSIFY = """
var bytes = atob(arguments[0]), n = arguments[1], done = arguments[arguments.length - 1];
var gray = new Uint8Array(bytes.length);
for (var i = 0; i < bytes.length; i++) { gray[i] = bytes.charCodeAt(i); }
window.mmerCheck.classify(gray, n).then(function (p) { done(Array.from(p)); })
  .catch(function (e) { done({error: String(e && e.message || e)}); });
"""

_ANALYSE = """
var png = arguments[0], done = arguments[arguments.length - 1];
window.mmerCheck.maxSide = arguments[1];
var bytes = atob(png), buf = new Uint8Array(bytes.length);
for (var i = 0; i < bytes.length; i++) { buf[i] = bytes.charCodeAt(i); }
createImageBitmap(new Blob([buf], {type: 'image/png'}), {colorSpaceConversion: 'none', premultiplyAlpha: 'none'})
  .then(function (bitmap) {
    var frame = window.mmerCheck.grab(bitmap, bitmap.width, bitmap.height);
    return window.mmerCheck.analyse(frame);
  }).then(function (faces) {
    done(faces.map(function (f) { return {x: f.x, y: f.y, w: f.w, h: f.h, score: f.score, proba: f.proba}; }));
  }).catch(function (e) { done({error: String(e && e.message || e)}); });
"""


def classifier_parity(driver, n: int = 200) -> dict:
    """The shipped face model on ``n`` FER2013 PrivateTest faces (class-stratified subset, seed 42):
    onnxruntime-web in the page (``/browser/check``, loaded) against onnxruntime in Python, same pixels."""
    import base64

    import onnxruntime as ort

    from ..models import store
    from ..video.data import load_fer_arrays, to_model_input

    X, _ = load_fer_arrays("test", limit=n)
    session = ort.InferenceSession(str(store.path("face_emotion", "onnx")), providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: to_model_input(X)})[0].astype(np.float64)
    got = driver.execute_async_script(_CLASSIFY, base64.b64encode(X.tobytes()).decode("ascii"), len(X))
    if isinstance(got, dict):
        raise BrowserMissingError(f"the browser could not classify the faces: {got.get('error')}")
    got = np.asarray(got, dtype=np.float64).reshape(len(X), -1)
    return {"faces": int(len(X)), "max_abs_diff": float(np.abs(got - expected).max()),
            "label_agreement": float(np.mean(got.argmax(1) == expected.argmax(1))),
            "labels_used": int(len(set(expected.argmax(1).tolist()))), "browser": got, "python": expected}


def parity_video_frames(n_faces: int = 6, per_face: int = 5, seed: int = 3) -> list[np.ndarray]:
    """The test video: 640x480 BGR frames of ``n_faces`` FER2013 PrivateTest faces pasted on a
    background, each at ``per_face`` positions and sizes (120, 160, 200 px)."""
    from ..video.synth import make_face_photo, sample_fer_faces

    faces, _ = sample_fer_faces(n_faces, split="test", seed=seed)
    frames = []
    for k, face in enumerate(faces):
        for j in range(per_face):
            photo, _ = make_face_photo(face[None], jitter=30, seed=seed + 100 * k + j,
                                       face_size=int(120 + 40 * (j % 3)))
            frames.append(photo)
    return frames


def _iou(a, b) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def detection_parity(driver, frames: list[np.ndarray], *, max_side: int = 640) -> dict:
    """Detection + classification of each frame in the page and by the Python pipeline (the shipped
    ``FaceEmotionModel``, same ``max_side``); frames go to the browser as PNG (the same pixels).

    Counts the frames where both, only one or neither find a face; for the frames where both do
    (the largest face each): the boxes' IoU, the labels' agreement and the probabilities' max difference.
    """
    import base64

    import cv2

    from ..video.predict import FaceEmotionModel

    model = FaceEmotionModel.load_pretrained(max_side=max_side)
    counts = {"both": 0, "python_only": 0, "browser_only": 0, "neither": 0}
    ious, same, diffs = [], [], []
    for frame in frames:
        ok, png = cv2.imencode(".png", frame)
        got = driver.execute_async_script(_ANALYSE, base64.b64encode(png.tobytes()).decode("ascii"), max_side)
        if isinstance(got, dict):
            raise BrowserMissingError(f"the browser could not analyse a frame: {got.get('error')}")
        table = model.analyse_image(frame)
        b = max(got, key=lambda f: f["w"] * f["h"]) if got else None
        p = table.loc[(table["w"] * table["h"]).idxmax()] if len(table) else None
        if b is not None and p is not None:
            counts["both"] += 1
            ious.append(_iou((b["x"], b["y"], b["w"], b["h"]), (p["x"], p["y"], p["w"], p["h"])))
            proba = p[model.labels].to_numpy(dtype=float)
            same.append(int(np.argmax(b["proba"])) == int(np.argmax(proba)))
            diffs.append(float(np.abs(np.asarray(b["proba"]) - proba).max()))
        elif p is not None:
            counts["python_only"] += 1
        elif b is not None:
            counts["browser_only"] += 1
        else:
            counts["neither"] += 1
    return {"frames": len(frames), "max_side": max_side, "detector": model.detector, **counts,
            "iou_median": float(np.median(ious)) if ious else float("nan"),
            "iou_min": float(min(ious)) if ious else float("nan"),
            "label_agreement": float(np.mean(same)) if same else float("nan"),
            "max_abs_diff": float(max(diffs)) if diffs else float("nan")}


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
  // the page's own thread meanwhile: a 10-ms timer counts how often it gets to run (100 a second when free)
  var ticks = 0, timer = setInterval(function () { ticks += 1; }, 10);
  while (performance.now() < end) {
    var frame = model.grab(video, video.videoWidth, video.videoHeight);
    var faces = await model.analyse(frame);
    n += 1; if (faces.length) { withFace += 1; }
  }
  clearInterval(timer);
  var wall = (performance.now() - t0) / 1000;
  var t1 = performance.now(), m = 0;
  var still = model.grab(video, video.videoWidth, video.videoHeight);
  while (performance.now() - t1 < Math.max(2000, 1000 * seconds / 3)) { await model.detect(still); m += 1; }
  det = m / ((performance.now() - t1) / 1000);
  video.srcObject.getTracks().forEach(function (t) { t.stop(); });
  done({frames: n, with_face: withFace, seconds: wall, timer_ticks_per_second: ticks / wall, width: still.width, height: still.height, detect_fps: det,
        user_agent: navigator.userAgent, ort: ort.env.versions ? ort.env.versions.web : null});
}).catch(function (e) { done({error: String(e && e.message || e)}); });
"""


def measure_browser(driver, base: str, seconds: float, *, threads: int = 0, max_side: int = 640,
                    worker: bool = False) -> dict:
    """Frames/s of detection + classification of the fake camera's frames in the page (one after the other)."""
    open_check_page(driver, base, threads=threads, worker=worker)
    driver.set_script_timeout(seconds + 90)
    out = driver.execute_async_script(_BROWSER_LOOP, seconds, max_side)
    if out.get("error"):
        raise BrowserMissingError(f"the browser could not analyse the camera's frames: {out['error']}")
    out["threads"] = int(driver.execute_script("return ort.env.wasm.numThreads"))
    out["max_side"] = max_side
    out["worker"] = worker
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
    from .. import config

    problem = browser_problem()
    if problem:
        raise BrowserMissingError(f"the browser benchmark {problem}")
    setting = FULL if full else QUICK
    frames = face_frames(6)
    records = []
    with tempfile.TemporaryDirectory(prefix="mmer-browser-bench-") as tmp:
        tmp = Path(tmp)
        y4m = write_y4m(tmp / "camera.y4m", frames)
        with config.cache_dir_override(tmp / "cache"), start_app(tmp) as (_, base):
            driver = chromium(tmp / "profile", y4m=y4m)
            try:
                open_check_page(driver, base, threads=1)
                parity = classifier_parity(driver, setting["parity_faces"])
                video = parity_video_frames(per_face=setting["parity_per_face"])
                detection = [detection_parity(driver, video, max_side=side) for side in (640, 320)]
                browser = [measure_browser(driver, base, setting["browser_seconds"], threads=1),
                           measure_browser(driver, base, setting["browser_seconds"], threads=2),
                           measure_browser(driver, base, setting["browser_seconds"], threads=1, max_side=320),
                           measure_browser(driver, base, setting["browser_seconds"], threads=1, max_side=320,
                                           worker=True)]
            finally:
                driver.quit()
    python = [measure_python(frames, setting["python_frames"]),
              measure_python(frames, setting["python_frames"], max_side=320)]
    protocol = "640x480 fake camera, FER2013 PrivateTest faces on a background"

    def add(model, metric, value, extra):
        records.append(BenchRecord(chapter=CHAPTER, model=f"{OWNED_PREFIX}: {model}", protocol=protocol,
                                   split="6 faces, 1 s each", metric=metric, value=float(value),
                                   train_seconds=None, command=command, extra=extra))

    for key in ("max_abs_diff", "label_agreement"):
        records.append(BenchRecord(
            chapter=CHAPTER, model=f"{OWNED_PREFIX}: parity of the face model (onnxruntime-web vs onnxruntime)",
            protocol="the same 48x48 pixels in both", split=f"{parity['faces']} FER2013 PrivateTest faces",
            metric=key, value=parity[key], train_seconds=None, command=command,
            extra={"faces": parity["faces"], "labels_used": parity["labels_used"]}))
    for d in detection:
        extra = {k: d[k] for k in ("frames", "both", "python_only", "browser_only", "neither", "detector")}
        for key in ("both", "iou_median", "iou_min", "label_agreement", "max_abs_diff"):
            records.append(BenchRecord(
                chapter=CHAPTER, model=f"{OWNED_PREFIX}: parity of detection + classification, frames at most "
                                       f"{d['max_side']} px (browser vs FaceEmotionModel)",
                protocol="the same pixels (PNG) in both; largest face per frame",
                split=f"{d['frames']} frames: FER2013 PrivateTest faces on a background",
                metric="frames_with_a_face_in_both" if key == "both" else key,
                value=float(d[key]), train_seconds=None, command=command, extra=extra))
    for b in browser:
        threads = f"{b['threads']} thread{'s' if b['threads'] != 1 else ''}"
        b_extra = {"frames": b["frames"], "seconds": round(b["seconds"], 2), "frames_with_face": b["with_face"],
                   "runtime": f"onnxruntime-web {b.get('ort') or ''} (wasm, {threads}), headless Chromium",
                   "user_agent": b.get("user_agent")}
        side = ("" if b["max_side"] == 640 else f", detection at {b['max_side']} px") + (
            ", in a Web Worker (the live overlay)" if b["worker"] else "")
        name = f"browser, {threads}{side} (YuNet + face model, onnxruntime-web)"
        add(name, "frames_per_second", b["frames"] / b["seconds"], b_extra)
        add(name, "face_found_rate", b["with_face"] / max(1, b["frames"]), b_extra)
        add(name, "page_timer_ticks_per_second", b["timer_ticks_per_second"], b_extra)
        add(f"browser detection only, {threads}{side} (YuNet, onnxruntime-web)", "frames_per_second",
            b["detect_fps"], {})
    for p, side in zip(python, (640, 320)):
        p_extra = {"frames": p["frames"], "seconds": round(p["seconds"], 2), "frames_with_face": p["with_face"],
                   "runtime": f"OpenCV FaceDetectorYN ({p['detector']}) + Keras, one Python process"}
        name = "Python pipeline (FaceEmotionModel.analyse_image" + ("" if side == 640 else ", max_side=320") + ")"
        add(name, "frames_per_second", p["frames"] / p["seconds"], p_extra)
        add(name, "face_found_rate", p["with_face"] / max(1, p["frames"]), p_extra)
    return records
