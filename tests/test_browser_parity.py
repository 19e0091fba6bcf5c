"""The face models give the same answers in the browser (onnxruntime-web) as in Python.

* Classification: 200 FER2013 PrivateTest faces, the shipped ``face_emotion.onnx`` run by
  onnxruntime-web in headless Chromium and by onnxruntime in Python on the same pixels:
  probabilities within 1e-4, identical labels.
* Detection + classification on a test video (FER2013 faces pasted on a background, moving):
  the browser's YuNet (``static/live_face.js``) and Python's (OpenCV's FaceDetectorYN, the app's
  server-side pipeline) on the same frames, sent to the browser losslessly (PNG): the frames
  where both find a face, the overlap (IoU) of their boxes, the agreement of their labels.

The page and the models are served by the app on 127.0.0.1 (``/browser/check``). Skips, with
the reason, when Chromium, its driver, Selenium or the vendored runtime
(``python -m mmer_utils.app.vendor``) are missing; in CI (``MMER_REQUIRE_DATA=1`` or ``CI``)
that is a failure instead.
"""

from __future__ import annotations

import os

import pytest

from conftest import REQUIRE_DATA, real_dataset

from mmer_utils import config

STRICT = REQUIRE_DATA or bool(os.environ.get("CI"))
N_FACES = 200


def _need_browser():
    from mmer_utils.bench.browser_face import browser_problem

    problem = browser_problem()
    if problem:
        message = f"the browser parity tests {problem}"
        if STRICT:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The app's /browser/check page in headless Chromium, the models loaded."""
    _need_browser()
    from mmer_utils.bench.browser_face import BrowserMissingError, chromium, open_check_page, start_app

    folder = tmp_path_factory.mktemp("browser-parity")
    with config.cache_dir_override(folder / "cache"), start_app(folder) as (app, base):
        driver = chromium(folder / "profile")
        try:
            try:
                open_check_page(driver, base)
            except BrowserMissingError as exc:   # e.g. YuNet not installed: the page says why
                (pytest.fail if STRICT else pytest.skip)(f"the browser parity tests cannot run: {exc}")
            yield driver
        finally:
            driver.quit()


@pytest.mark.data
def test_the_face_model_gives_the_same_probabilities_in_the_browser(page):
    real_dataset("fer2013")
    from mmer_utils.bench.browser_face import classifier_parity

    r = classifier_parity(page, N_FACES)
    print(f"browser vs Python on {r['faces']} FER2013 PrivateTest faces: max |diff| {r['max_abs_diff']:.2e}, "
          f"labels equal {r['label_agreement']:.3f}")
    assert r["faces"] == N_FACES and r["browser"].shape == (N_FACES, 7)
    assert r["max_abs_diff"] <= 1e-4, r["max_abs_diff"]
    assert r["label_agreement"] == 1.0
    # the test can fail: a model that ignores its input would give one label for every face
    assert r["labels_used"] >= 3


@pytest.mark.data
@pytest.mark.parametrize("max_side", [640, 320])
def test_browser_detection_finds_the_faces_python_finds(page, max_side):
    """``max_side``: frames detected on a copy at most this long (640: the app's server; 320: its live overlay)."""
    real_dataset("fer2013")
    from mmer_utils.bench.browser_face import detection_parity, parity_video_frames
    from mmer_utils.video.predict import yunet_available

    if not yunet_available():
        pytest.skip("YuNet's model file is not installed (python -m mmer_utils.video.assets fetch yunet)")
    r = detection_parity(page, parity_video_frames(), max_side=max_side)
    assert r["detector"] == "yunet"
    n, both = r["frames"], r["both"]
    print(f"detection at max_side {max_side} on {n} frames: both {both}, Python only {r['python_only']}, "
          f"browser only {r['browser_only']}, neither {r['neither']}; box IoU median {r['iou_median']:.3f} "
          f"(min {r['iou_min']:.3f}); labels equal {r['label_agreement']:.3f}; "
          f"max |diff| of probabilities {r['max_abs_diff']:.2e}")
    assert both >= 0.9 * (both + r["python_only"]) and both >= n // 2, r
    assert r["browser_only"] <= max(1, n // 20)
    assert r["iou_median"] >= 0.9 and r["iou_min"] >= 0.5
    assert r["label_agreement"] >= 0.9
