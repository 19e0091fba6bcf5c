"""The face models in the candidate's browser: the files the page needs, and a check page.

The answer page runs YuNet (face detection) and the course's face model in the browser with
onnxruntime-web (``static/live_face.js``, ``static/vendor/``: see :mod:`mmer_utils.app.vendor`).
This blueprint serves the two ONNX files from where the package keeps them (the shipped
``face_emotion.onnx`` of :mod:`mmer_utils.models`, YuNet from the data folder's ``models/``),
under ``/static/models/`` so that browsers cache them like the other static files, and
``/browser/check``, a page that loads both models (the parity test and the speed benchmark
drive it; a teacher can open it to see whether a browser can run them).

:func:`live_status` says whether the in-browser models can run; when they cannot (no vendored
runtime after a ``pip install``, no YuNet file), the answer page shows one line saying why, and
the app works as before (the server analyses the uploaded video).

Pages that run WebAssembly get ``'wasm-unsafe-eval'`` in their Content-Security-Policy
(compiling WebAssembly; no JavaScript ``eval``) and are cross-origin isolated
(``Cross-Origin-Opener-Policy: same-origin``, ``Cross-Origin-Embedder-Policy: require-corp``;
the vendored files carry COEP and CORP too): onnxruntime-web's threads need
``SharedArrayBuffer``. Every other page keeps the strict policy.
"""

from __future__ import annotations

import functools
import hashlib
import io
from pathlib import Path

from flask import Blueprint, abort, current_app, render_template, request, send_file, url_for

from .vendor import status as vendor_status

bp = Blueprint("inbrowser", __name__)

#: Pages whose scripts compile WebAssembly.
WASM_PAGES = {"candidate.answer", "candidate.submit", "inbrowser.check"}
#: Analyses a second at most in the live overlay (the recording never waits for them).
LIVE_MAX_FPS = 5


#: name -> (path, (mtime_ns, size)) of a model file already verified: the answer page asks on every visit, and
#: the store's check (kind + SHA-256 of 7 MB) is done again only when the file changes
_VERIFIED: dict = {}


def _stat_key(path):
    st = Path(path).stat()
    return (st.st_mtime_ns, st.st_size)


def _model_file(name: str):
    """The path of ``face_emotion`` or ``yunet``'s ONNX file, or None when it is not installed."""
    from ..errors import MmerError

    try:
        if name == "face_emotion":
            from ..models import store

            known = _VERIFIED.get(name)
            if known is not None and known[0].is_file() and _stat_key(known[0]) == known[1]:
                return known[0]
            path = Path(store.path("face_emotion", "onnx"))
            _VERIFIED[name] = (path, _stat_key(path))
            return path
        if name == "yunet":
            from ..video.assets import asset_path

            return asset_path("yunet")
    except (MmerError, OSError, ImportError):
        return None
    return None


def live_status() -> dict:
    """``{"on": bool, "reason": one line when off, urls...}`` for the answer page's template."""
    reason = vendor_status()
    if reason is None and not current_app.config.get("BROWSER_FACE", True):
        reason = "the in-browser face models are switched off in this app's configuration (BROWSER_FACE)"
    if reason is None and _model_file("face_emotion") is None:
        reason = "the in-browser face models are off: the shipped face model's ONNX file is missing"
    if reason is None and _model_file("yunet") is None:
        reason = ("the in-browser face models are off: the YuNet face detector is not installed "
                  "(python -m mmer_utils.video.assets fetch yunet)")
    out = {"on": reason is None, "reason": reason, "max_fps": LIVE_MAX_FPS,
           "max_side": int(current_app.config.get("BROWSER_FACE_MAX_SIDE") or 640)}
    if reason is None:
        out.update(ort=url_for("static", filename="vendor/onnxruntime-web/ort.wasm.min.js"),
                   wasm=url_for("static", filename="vendor/onnxruntime-web/"),
                   face_model=url_for("inbrowser.model", name="face_emotion"),
                   detector_model=url_for("inbrowser.model", name="yunet"))
    return out


@functools.lru_cache(maxsize=2)
def dynamic_yunet(path: str, mtime: float) -> bytes:
    """YuNet's ONNX file with a free input size instead of its fixed 640x640.

    The network is fully convolutional (its reshapes are ``[1, -1, k]``, its upsampling a scale),
    so, like OpenCV's ``FaceDetectorYN``, the browser can run it on the frame padded to a multiple
    of 32 (640x480 stays 640x480: a quarter less work than 640x640, and the same input as Python's).
    Only the declared shapes change, never a weight.
    """
    import onnx

    model = onnx.load_model(path)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    for out in model.graph.output:
        out.type.tensor_type.shape.dim[1].dim_param = "anchors"
    del model.graph.value_info[:]
    onnx.checker.check_model(model)
    return model.SerializeToString()


@bp.get("/static/models/<name>.onnx")
def model(name):
    if name not in ("face_emotion", "yunet"):
        abort(404)
    path = _model_file(name)
    if path is None:
        abort(404)
    if name == "yunet":
        data = dynamic_yunet(str(path), Path(path).stat().st_mtime)
        response = send_file(io.BytesIO(data), mimetype="application/octet-stream", max_age=3600,
                             download_name="yunet.onnx", etag=hashlib.sha256(data).hexdigest()[:32])
        return response
    return send_file(path, mimetype="application/octet-stream", max_age=3600)


@bp.get("/browser/check")
def check():
    """A page that loads the in-browser models (for the parity test, the benchmark and teachers)."""
    return render_template("browser_check.html", live=live_status())


@bp.after_app_request
def _allow_wasm(response):
    if request.endpoint in WASM_PAGES:
        from .security import CSP

        response.headers["Content-Security-Policy"] = CSP.replace("script-src 'self'",
                                                                  "script-src 'self' 'wasm-unsafe-eval'")
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["Cross-Origin-Embedder-Policy"] = "require-corp"
    elif request.path.startswith("/static/vendor/"):
        from .security import CSP

        # a script that runs as a Web Worker (the runtime's proxy) has the policy of its own response
        response.headers["Content-Security-Policy"] = CSP.replace("script-src 'self'",
                                                                  "script-src 'self' 'wasm-unsafe-eval'")
        response.headers["Cross-Origin-Embedder-Policy"] = "require-corp"
        response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


def init_app(app) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals["browser_face"] = live_status
