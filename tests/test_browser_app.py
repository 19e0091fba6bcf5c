"""The app's in-browser face models, without a browser: vendoring, the files served, the page's switch.

(The browser itself runs in tests/test_browser_parity.py and tests/test_app_e2e.py.)
"""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("MMER_CACHE_DIR", str(tmp_path / "cache"))
    from mmer_utils.app import create_app

    app = create_app({"DATABASE": tmp_path / "app.sqlite", "RECRUITER_PASSWORD": None, "RESUME_JOBS": False,
                      "TESTING": True})
    yield app
    app.extensions["mmer"]["runner"].shutdown()


def _fake_package(web, version="9.9.9", files=None):
    dist = web / "node_modules" / "onnxruntime-web" / "dist"
    dist.mkdir(parents=True)
    (web / "package-lock.json").write_text("{}")
    (web / "node_modules" / "onnxruntime-web" / "package.json").write_text(json.dumps({"version": version}))
    from mmer_utils.app.vendor import FILES

    for name in (FILES if files is None else files):
        (dist / name).write_bytes(b"x" * 10)
    (dist / "ort.all.min.js").write_bytes(b"not needed")
    return web


def test_vendor_copies_only_the_needed_files_with_the_licence(tmp_path):
    from mmer_utils.app.vendor import FILES, status, vendor

    web = _fake_package(tmp_path / "web")
    out = tmp_path / "static" / "vendor" / "onnxruntime-web"
    assert status(out) is not None and "python -m mmer_utils.app.vendor" in status(out)
    vendor(web, out, install=False)
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES + ("LICENSE", "VENDORED.json"))
    assert "MIT License" in (out / "LICENSE").read_text() and "Microsoft" in (out / "LICENSE").read_text()
    manifest = json.loads((out / "VENDORED.json").read_text())
    assert manifest["version"] == "9.9.9" and set(manifest["files"]) == set(FILES)
    assert status(out) is None


def test_vendor_says_what_is_missing_in_one_line(tmp_path):
    from mmer_utils.app.vendor import VendorError, vendor

    with pytest.raises(VendorError, match="package-lock.json"):
        vendor(tmp_path / "nowhere", tmp_path / "out", install=False)
    web = _fake_package(tmp_path / "web", files=("ort.wasm.min.js",))
    with pytest.raises(VendorError, match="has no ort-wasm-simd-threaded"):
        vendor(web, tmp_path / "out", install=False)
    assert not (tmp_path / "out").exists()


def test_the_web_project_pins_onnxruntime_web():
    from mmer_utils.app.vendor import WEB_DIR

    package = json.loads((WEB_DIR / "package.json").read_text())
    lock = json.loads((WEB_DIR / "package-lock.json").read_text())
    version = package["dependencies"]["onnxruntime-web"]
    assert version[0].isdigit(), "pin an exact version"
    assert lock["packages"]["node_modules/onnxruntime-web"]["version"] == version


def test_the_answer_page_says_in_one_line_when_the_browser_models_are_off(app, monkeypatch):
    import mmer_utils.app.inbrowser as inbrowser

    monkeypatch.setattr(inbrowser, "vendor_status", lambda: "the in-browser face models are off: not vendored")
    client = app.test_client()
    with client.session_transaction() as s:
        s["consent"] = "now"
    page = client.get("/answer?mode=video&question=leadership")
    assert page.status_code == 200
    html = page.text
    assert "the in-browser face models are off: not vendored" in html
    assert "live_face.js" not in html and 'id="private-mode"' not in html and "ort.wasm.min.js" not in html
    assert "wasm-unsafe-eval" in page.headers["Content-Security-Policy"]
    assert page.headers["Cross-Origin-Opener-Policy"] == "same-origin"          # isolated: wasm threads
    assert page.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
    # every other page keeps the strict policy
    home = client.get("/")
    assert "wasm" not in home.headers["Content-Security-Policy"] and "Cross-Origin-Opener-Policy" not in home.headers


def test_the_answer_page_loads_the_runtime_from_the_app_never_a_cdn(app, monkeypatch):
    import mmer_utils.app.inbrowser as inbrowser

    monkeypatch.setattr(inbrowser, "vendor_status", lambda: None)
    monkeypatch.setattr(inbrowser, "_model_file", lambda name: __file__)
    client = app.test_client()
    with client.session_transaction() as s:
        s["consent"] = "now"
    html = client.get("/answer?mode=video&question=leadership").text
    assert 'src="/static/vendor/onnxruntime-web/ort.wasm.min.js"' in html and "live_face.js" in html
    assert 'data-wasm="/static/vendor/onnxruntime-web/"' in html and 'id="private-mode"' in html
    assert "http://" not in html and "https://" not in html
    text = client.get("/answer?mode=text&question=leadership").text
    assert "live_face.js" not in text
    # the models are served with a cache lifetime; other names are 404
    r = client.get("/static/models/face_emotion.onnx")
    assert r.status_code == 200 and "max-age" in r.headers["Cache-Control"]
    assert client.get("/static/models/secret.onnx").status_code == 404


def test_the_model_files_are_404_when_not_installed(app, monkeypatch):
    import mmer_utils.app.inbrowser as inbrowser

    monkeypatch.setattr(inbrowser, "_model_file", lambda name: None)
    client = app.test_client()
    assert client.get("/static/models/yunet.onnx").status_code == 404
    page = client.get("/browser/check")
    assert page.status_code == 200 and 'data-state="off"' in page.text
