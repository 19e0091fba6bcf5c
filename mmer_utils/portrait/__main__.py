"""Command line of the candidate portrait.

``python -m mmer_utils.portrait train [--quick]``
    retrain the portrait's models and save them as a bundle (optional: without ``--models``
    the report uses the models shipped with the course; see :mod:`mmer_utils.portrait.models`);
``python -m mmer_utils.portrait --text answer.txt --audio answer.wav --video answer.mp4 --out report/``
    analyse one interview answer (any input may be left out), compare it with the candidates
    of the database, add it to them (unless ``--no-store``) and write ``report/report.html``;
``python -m mmer_utils.portrait candidates [--db PATH]``
    list the candidates of the database;
``python -m mmer_utils.portrait demo --out DIR``
    write a demo answer made of real data (an essay excerpt, RAVDESS sentences, FER2013 faces).

Errors on bad input are one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import MmerError

COMMANDS = ("train", "report", "candidates", "demo")


def _train_parser():
    p = argparse.ArgumentParser(prog="python -m mmer_utils.portrait train",
                                description="Train the portrait's models and save them as one bundle.")
    p.add_argument("--quick", action="store_true", help="small training subsets (about a minute or less)")
    p.add_argument("--models", help="folder of the bundle (default: <cache>/models/portrait/{full,quick})")
    p.add_argument("--face", choices=["auto", "default", "hog", "none"], default="auto",
                   help="face model: the video chapter's saved one (default), a HOG + SVM trained here, or none")
    p.add_argument("--modalities", default="text,audio,video", help="comma-separated: text,audio,video")
    p.add_argument("--seed", type=int, default=42)
    return p


def _report_parser():
    p = argparse.ArgumentParser(prog="python -m mmer_utils.portrait",
                                description="Build the candidate portrait of one interview answer "
                                            "(any of --text, --audio, --video may be left out). "
                                            "Other commands: train, candidates, demo (see --help of each).")
    p.add_argument("--text", help="the typed answer (a UTF-8 text file)")
    p.add_argument("--audio", help="the answer's recording (WAV, FLAC, OGG, MP3)")
    p.add_argument("--video", help="the answer's video (MP4, AVI...)")
    p.add_argument("--out", required=True, help="folder of the report (report.html, figures, portrait.json)")
    p.add_argument("--name", default="candidate", help="the candidate's name in the report and the database")
    p.add_argument("--db", help="SQLite database of the candidates (default: <cache>/portrait/candidates.sqlite)")
    p.add_argument("--no-store", action="store_true", help="do not add this candidate to the database")
    p.add_argument("--no-compare", action="store_true", help="do not read or write the database (no comparison)")
    p.add_argument("--models", help="folder of a bundle made by `train` (default: the models shipped with the "
                                    "course; without them, the full bundle trained here, else the quick one)")
    p.add_argument("--face-every", type=int, default=2, help="analyse one video frame in N (default 2)")
    return p


def _candidates_parser():
    p = argparse.ArgumentParser(prog="python -m mmer_utils.portrait candidates",
                                description="List the candidates of the database.")
    p.add_argument("--db", help="SQLite database (default: <cache>/portrait/candidates.sqlite)")
    return p


def _demo_parser():
    p = argparse.ArgumentParser(prog="python -m mmer_utils.portrait demo",
                                description="Write a demo interview answer made of real data "
                                            "(held-out essay, RAVDESS actor, FER2013 PrivateTest faces).")
    p.add_argument("--out", required=True)
    p.add_argument("--actor", type=int, default=24)
    p.add_argument("--essay", type=int, default=0)
    p.add_argument("--emotions", default="happy,neutral,happy,surprise,happy,sad",
                   help="comma-separated shared emotions of the voice sentences and faces")
    p.add_argument("--seed", type=int, default=0)
    return p


def check_out(out) -> Path:
    """The report's folder: a new or existing folder, never an existing file (checked before any work)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise MmerError(f"--out {out} is an existing file; give a folder for the report "
                        "(report.html, figures/, portrait.json are written inside it)")
    parent = next((p for p in [out, *out.parents] if p.exists()), Path("."))
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise MmerError(f"--out {out}: cannot write in {parent}")
    return out


def run_report(args) -> int:
    from . import CandidateStore, build_portrait, compare, load_models, write_report

    if not (args.text or args.audio or args.video):
        raise MmerError("no input: give at least one of --text, --audio, --video")
    out = check_out(args.out)
    store = None if args.no_compare else CandidateStore(args.db)   # a bad --db fails before the models run
    models = load_models(args.models, face=args.video is not None)
    portrait = build_portrait(models, text_file=args.text, audio=args.audio, video=args.video, name=args.name,
                              face_every=args.face_every)
    for key, reason in portrait.problems.items():
        print(f"warning: {key} left out: {reason}", file=sys.stderr)
    for caveat in portrait.caveats:
        print(f"warning: {caveat}", file=sys.stderr)
    if store is not None:
        compare(portrait, store)
    page = write_report(portrait, out)   # the report first: a candidate is never stored without one
    if store is not None and not args.no_store:
        cid = store.add_portrait(portrait)
        print(f"added {args.name!r} to {store.path} as candidate {cid}")
    summary = []
    if portrait.most_visible_trait:
        summary.append(f"most visible trait: {portrait.most_visible_trait}")
    if portrait.combined is not None:
        summary.append(f"combined emotion: {portrait.combined.idxmax()}")
    print("; ".join(summary) or "no model ran")
    print(f"report: {page}")
    return 0


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and argv[0] in COMMANDS else "report"
    rest = argv[1:] if argv and argv[0] in COMMANDS else argv
    if not {"-h", "--help"} & set(argv):
        from .. import config

        config.import_tensorflow_quietly()   # no native log lines before the answer
    try:
        if command == "train":
            from .models import train_models

            args = _train_parser().parse_args(rest)
            modalities = [m.strip() for m in args.modalities.split(",") if m.strip()]
            train_models(args.models, quick=args.quick, seed=args.seed, face=args.face, modalities=modalities)
            return 0
        if command == "candidates":
            from .store import CandidateStore

            args = _candidates_parser().parse_args(rest)
            store = CandidateStore(args.db)
            table = store.candidates()
            print(f"{len(table)} candidate{'' if len(table) == 1 else 's'} in {store.path}")
            if len(table):
                print(table.reset_index().to_string(index=False))   # one header row
            return 0
        if command == "demo":
            from .demo import make_demo_interview

            args = _demo_parser().parse_args(rest)
            emotions = [e.strip() for e in args.emotions.split(",") if e.strip()]
            paths = make_demo_interview(args.out, emotions=emotions, actor=args.actor, essay=args.essay, seed=args.seed)
            for key in ("text", "audio", "video"):
                print(f"{key}: {paths[key]}")
            return 0
        return run_report(_report_parser().parse_args(rest))
    except (MmerError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
