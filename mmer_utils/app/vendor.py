"""Vendor the browser runtime of the app from npm: ``python -m mmer_utils.app.vendor``.

The live face overlay and the private mode of the video answer run the face models in the
candidate's browser with `onnxruntime-web <https://www.npmjs.com/package/onnxruntime-web>`_
(WebAssembly). Its files are never loaded from a CDN: this command runs ``npm ci`` in the
repository's ``web/`` folder (the version is pinned in ``web/package.json`` and
``web/package-lock.json``) and copies only the files the app needs into
``mmer_utils/app/static/vendor/onnxruntime-web/``:

* ``ort.wasm.min.js``: the JavaScript API, WebAssembly backend only (about 0.05 MB);
* ``ort-wasm-simd-threaded.mjs`` and ``ort-wasm-simd-threaded.wasm``: the runtime it loads
  (about 15 MB; the page points ``ort.env.wasm.wasmPaths`` at this folder);
* ``LICENSE`` (MIT, Microsoft) and ``VENDORED.json`` (package, version, files, SHA-256).

The folder is git-ignored (the WebAssembly file is large and rebuilt from npm). ``make setup``
and ``.ci/run`` call this command. A ``pip install`` of the package has no npm step: without
these files the app works as before and the answer page says, in one line, that the live
overlay and the private mode are off (:func:`status`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

from ..errors import MmerError

HERE = Path(__file__).resolve().parent
#: Where the app serves the vendored files from (``/static/vendor/onnxruntime-web/``).
VENDOR_DIR = HERE / "static" / "vendor" / "onnxruntime-web"
#: The npm project pinning the browser runtime (in a repository checkout only).
WEB_DIR = HERE.parents[1] / "web"
PACKAGE = "onnxruntime-web"
#: The files of the package's ``dist/`` folder the app needs.
FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
MIT = """MIT License

Copyright (c) Microsoft Corporation.

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


class VendorError(MmerError, RuntimeError):
    """The browser runtime cannot be vendored (no npm, no ``web/`` folder, npm failed)."""


def status(folder: Path | None = None) -> str | None:
    """None when the vendored runtime is complete, else one line saying what is missing and how to get it."""
    folder = Path(folder or VENDOR_DIR)
    missing = [name for name in FILES + ("LICENSE",) if not (folder / name).is_file()]
    if not missing:
        return None
    return (f"the in-browser face models are off: {PACKAGE} is not vendored "
            f"(run `python -m mmer_utils.app.vendor` in a checkout of the repository, with npm)")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def vendor(web_dir: Path | None = None, folder: Path | None = None, *, npm: str = "npm",
           install: bool = True) -> Path:
    """Run ``npm ci`` in ``web_dir`` and copy the needed files into ``folder``; return ``folder``."""
    web_dir, folder = Path(web_dir or WEB_DIR), Path(folder or VENDOR_DIR)
    if not (web_dir / "package-lock.json").is_file():
        raise VendorError(f"no {web_dir}/package-lock.json: vendoring needs a checkout of the repository")
    if install:
        if shutil.which(npm) is None:
            raise VendorError(f"{npm} not found: install Node.js 18+ (e.g. apt-get install nodejs npm) and run again")
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=web_dir,
                              capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
            raise VendorError(f"npm ci failed in {web_dir}: {tail[0]}")
    package = web_dir / "node_modules" / PACKAGE
    try:
        version = json.loads((package / "package.json").read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        raise VendorError(f"{package} is not installed: run `npm ci` in {web_dir}") from None
    missing = [name for name in FILES if not (package / "dist" / name).is_file()]
    if missing:
        raise VendorError(f"{PACKAGE} {version} has no {', '.join(missing)} in dist/: pin a version that has "
                          f"(web/package.json)")
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in FILES:
        shutil.copyfile(package / "dist" / name, tmp / name)
    licences = sorted(package.glob("LICENSE*"))
    (tmp / "LICENSE").write_text(licences[0].read_text(encoding="utf-8") if licences else MIT, encoding="utf-8")
    manifest = {"package": PACKAGE, "version": version, "licence": "MIT",
                "source": f"npm: {PACKAGE}@{version} (web/package-lock.json)",
                "files": {name: _sha256(tmp / name) for name in FILES}}
    (tmp / "VENDORED.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mmer_utils.app.vendor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-install", action="store_true", help="copy from web/node_modules without `npm ci`")
    args = parser.parse_args(argv)
    try:
        folder = vendor(install=not args.no_install)
    except VendorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    manifest = json.loads((folder / "VENDORED.json").read_text(encoding="utf-8"))
    size = sum((folder / n).stat().st_size for n in FILES) / 1e6
    print(f"vendored {PACKAGE} {manifest['version']} into {folder} ({len(FILES)} files, {size:.1f} MB, MIT licence)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
