"""``python -m mmer_utils.app``: serve the interview simulator (Werkzeug's threaded server).

::

    python -m mmer_utils.app                                   # http://127.0.0.1:8000/, recruiter view disabled
    python -m mmer_utils.app --recruiter-password-file pw.txt  # recruiter view at /recruiter/
    MMER_RECRUITER_PASSWORD=... python -m mmer_utils.app --host 0.0.0.0 --port 8000 --db /srv/class.sqlite

Errors in the options are one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import MmerError


def parser() -> argparse.ArgumentParser:
    from . import PASSWORD_ENV, SECRET_ENV

    p = argparse.ArgumentParser(
        prog="python -m mmer_utils.app",
        description="The interview simulator: candidates answer a question (text, voice, video) and read their "
                    "portrait; a recruiter lists and compares them.",
        epilog=f"Recruiter password: --recruiter-password-file, else ${PASSWORD_ENV}; without one the recruiter "
               f"view is disabled. Sessions survive a restart only with ${SECRET_ENV} set.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only; "
                                                       "0.0.0.0 to let the class's machines in)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--db", help="SQLite database of the interviews (default: <cache>/app/app.sqlite); the scores "
                                "and files go beside it")
    p.add_argument("--recruiter-password-file", help="file whose first line is the recruiter's password")
    p.add_argument("--models", help="a bundle made by `python -m mmer_utils.portrait train` (default: the shipped "
                                    "models)")
    p.add_argument("--max-recording-seconds", type=float, default=120, help="longest recording accepted (default 120)")
    p.add_argument("--max-upload-mb", type=float, default=64, help="largest upload accepted, in MB (default 64)")
    p.add_argument("--retention-days", type=float, default=30, help="days before an interview is deleted (default 30)")
    return p


def build_config(args) -> dict:
    """The app's config from the parsed options (the password file read, never echoed)."""
    config = {"DATABASE": args.db, "MODELS_DIR": args.models, "MAX_RECORDING_SECONDS": args.max_recording_seconds,
              "MAX_CONTENT_LENGTH": int(args.max_upload_mb * 1024 * 1024), "RETENTION_DAYS": args.retention_days}
    if args.recruiter_password_file:
        path = Path(args.recruiter_password_file).expanduser()
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise MmerError(f"cannot read the recruiter password file {path}: {exc.__class__.__name__}") from None
        password = lines[0].strip() if lines else ""
        if not password:
            raise MmerError(f"the recruiter password file {path} is empty: put the password on its first line")
        config["RECRUITER_PASSWORD"] = password
    if args.max_recording_seconds <= 0 or args.max_upload_mb <= 0 or args.retention_days <= 0:
        raise MmerError("--max-recording-seconds, --max-upload-mb and --retention-days must be positive")
    if not (0 < args.port < 65536):
        raise MmerError(f"--port must be between 1 and 65535, got {args.port}")
    return config


def main(argv=None, *, serve: bool = True) -> int:
    from . import PASSWORD_ENV, create_app

    args = parser().parse_args(argv)
    try:
        app = create_app(build_config(args))
    except (MmerError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    url = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{args.port}/"
    print(f"Interview simulator: {url}")
    print(f"  database: {app.config['DATABASE']}")
    if app.config["RECRUITER_PASSWORD_HASH"]:
        print(f"  recruiter view: {url}recruiter/")
    else:
        print(f"  recruiter view: disabled (give --recruiter-password-file FILE or set {PASSWORD_ENV})")
    print("  the models load at the first analysis (about 30 s); Ctrl+C stops the server", flush=True)
    if not serve:
        return 0
    try:
        app.run(host=args.host, port=args.port, threaded=True, debug=False, use_reloader=False)
    finally:
        app.extensions["mmer"]["runner"].shutdown()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
