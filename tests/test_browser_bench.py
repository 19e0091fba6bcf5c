"""`python -m mmer_utils.bench browser-face` (quick mode) runs and records what it says.

A benchmark, not a timed test: no frame rate is asserted, only that each setting analysed
frames and found the faces the fake camera shows.
"""

from __future__ import annotations

import os

import pytest

from conftest import REQUIRE_DATA, real_dataset


@pytest.mark.data
def test_the_browser_benchmark_quick_mode_records_every_setting():
    real_dataset("fer2013")
    from mmer_utils.bench import CHAPTERS, browser_face

    assert CHAPTERS["browser-face"] == "mmer_utils.bench.browser_face:run"
    problem = browser_face.browser_problem()
    if problem:
        message = f"the browser benchmark {problem}"
        if REQUIRE_DATA or os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    records = browser_face.run(full=False, command="python -m mmer_utils.bench browser-face")
    assert {r.chapter for r in records} == {"browser"}
    assert all(r.model.startswith(browser_face.OWNED_PREFIX + ": ") for r in records)
    by = {(r.model.split(": ", 1)[1], r.metric): r for r in records}
    pipelines = [m for m, metric in by if metric == "face_found_rate"]
    assert len([m for m in pipelines if m.startswith("browser, ")]) == 4
    assert any("in a Web Worker" in m for m in pipelines)
    for name in pipelines:
        if name.startswith("browser, "):   # how often the page's own thread ran meanwhile (a count, not a timing)
            assert by[(name, "page_timer_ticks_per_second")].value >= 0, name
    assert len([m for m in pipelines if m.startswith("Python pipeline")]) == 2
    for name in pipelines:
        fps = by[(name, "frames_per_second")]
        assert fps.value > 0 and fps.extra["frames"] > 0, name
        assert by[(name, "face_found_rate")].value >= 0.9, name   # every frame shows one 160-px face
    parity = by[("parity of the face model (onnxruntime-web vs onnxruntime)", "max_abs_diff")]
    assert parity.value <= 1e-4 and parity.extra["faces"] == 50
    for side in (640, 320):
        name = f"parity of detection + classification, frames at most {side} px (browser vs FaceEmotionModel)"
        assert by[(name, "frames_with_a_face_in_both")].value >= 1 and by[(name, "iou_median")].value >= 0.9
    threads = {r.extra["runtime"].split("(wasm, ")[1].split(")")[0] for r in records
               if r.model.split(": ", 1)[1].startswith("browser, ") and r.metric == "frames_per_second"}
    assert threads == {"1 thread", "2 threads"}, threads
