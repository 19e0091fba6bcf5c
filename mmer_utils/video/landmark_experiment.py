"""Do MediaPipe's landmarks and blendshapes help emotion recognition on FER2013? The experiment.

MediaPipe's FaceLandmarker (:mod:`mmer_utils.video.landmarks`) runs on a stratified
subset of FER2013 Training and on PublicTest / PrivateTest faces; logistic regressions
on the blendshapes and on the geometric features, an image model, and the image model
stacked with the landmark models (the combiner fit on PublicTest) are scored on
PrivateTest (never used for any choice). :func:`landmark_emotion_experiment` runs it
all; the video chapter's notebook and ``python -m mmer_utils.bench video-landmarks``
(which records the numbers) call it.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd


def _lr(C: float, seed: int):
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                         LogisticRegression(C=C, max_iter=3000, random_state=seed))


def _log(p):
    return np.log(np.clip(p, 1e-6, 1.0))


def pick_image_model() -> str | None:
    """The saved predictions (video benchmark) to use as image model, or None when there are none.

    The one with the best **PublicTest** accuracy among the models trained on FER2013 Training
    (the ``fer`` package's pretrained peer and this benchmark's own landmark model excluded):
    chosen like any model, never on PrivateTest.
    """
    from .data import PEER_PREFIX, list_predictions, load_predictions

    best = None
    for name in list_predictions():
        if name.lower().startswith(PEER_PREFIX) or name.startswith("landmarks:"):
            continue
        saved = load_predictions(name)
        acc = float(np.mean(saved["val_proba"].argmax(axis=1) == saved["val_y"]))
        if best is None or acc > best[0]:
            best = (acc, name)
    return None if best is None else best[1]


def landmark_emotion_experiment(*, n_train: int | None = 300, n_val: int | None = 200, n_test: int | None = 200,
                                seed: int = 42, image_model: str | None = "auto", image_train="same",
                                grid_c=(0.01, 0.1, 1.0), progress: bool = False) -> dict:
    """Run the whole comparison; return a dict with ``table`` (one row per model) and details.

    Parameters
    ----------
    n_train, n_val, n_test : int or None
        Faces of FER2013 Training, PublicTest and PrivateTest used (stratified subsets; None: all).
    seed : int
        Seed of the subsets and of the models.
    image_model : str or None
        "auto" (saved predictions if any, else HOG + linear SVM trained here), the name of
        saved predictions, or "hog" (always train HOG + linear SVM here).
    image_train : "same", int or None
        The Training faces of that HOG + linear SVM: "same" (the landmark models'
        ``n_train`` faces), a number (a stratified subset) or None (all 28,709: the image
        model needs no landmarks, so it can use every face).
    grid_c : sequence of float
        Values of C tried for each logistic regression (chosen on PublicTest).
    progress : bool
        Show the landmarker's progress.

    Returns
    -------
    dict
        Keys: table (DataFrame: model, features, accuracy, macro_f1, uar, n_test), detection
    (DataFrame per split: n, found, rate), ms_per_face, image_model (its description),
    features (dict split -> DataFrame), y (dict split -> labels), proba (dict model -> test probabilities),
    models (feature set -> fitted pipeline), feature_sets (feature set -> its columns).
    """
    from .. import evaluation
    from . import data
    from .landmarks import BLENDSHAPE_NAMES, GEOMETRY_NAMES, face_features

    sizes = {"train": n_train, "val": n_val, "test": n_test}
    X, y = {}, {}
    index = {}
    for split, limit in sizes.items():
        Xs, ys = data.load_fer_arrays(split)
        keep = data.stratified_subset(ys, limit, seed=seed)
        X[split], y[split], index[split] = Xs[keep], ys[keep], keep
    feats, ms = {}, {}
    for split in sizes:
        feats[split] = face_features(X[split], progress=progress)
        ms[split] = feats[split].attrs.get("ms_per_face", np.nan)
    detection = pd.DataFrame({split: {"n": len(f), "found": int(f["found"].sum()), "rate": float(f["found"].mean())}
                              for split, f in feats.items()}).T
    sets = {"blendshapes": list(BLENDSHAPE_NAMES) + ["found"],
            "geometry": list(GEOMETRY_NAMES) + ["found"],
            "blendshapes + geometry": list(BLENDSHAPE_NAMES) + list(GEOMETRY_NAMES) + ["found"]}
    rows, proba, val_proba, chosen, models = [], {}, {}, {}, {}

    def score(name, features, p, seconds):
        pred = np.argmax(p, axis=1)
        s = evaluation.classification_scores(y["test"], pred)
        found = feats["test"]["found"].to_numpy()
        rows.append({"model": name, "features": features, "accuracy": s["accuracy"], "macro_f1": s["macro_f1"],
                     "uar": s["uar"], "accuracy_on_found": evaluation.accuracy(y["test"][found], pred[found]),
                     "n_test": len(pred), "seconds": round(seconds, 1)})
        proba[name] = p

    for set_name, cols in sets.items():
        t = time.perf_counter()
        Xtr = feats["train"][cols].to_numpy(float)
        best = None
        for C in grid_c:  # chosen on PublicTest, never on PrivateTest
            model = _lr(C, seed).fit(Xtr, y["train"])
            acc = evaluation.accuracy(y["val"], model.predict(feats["val"][cols].to_numpy(float)))
            if best is None or acc > best[0]:
                best = (acc, C, model)
        _, C, model = best
        chosen[set_name] = C
        models[set_name] = model
        val_proba[set_name] = model.predict_proba(feats["val"][cols].to_numpy(float))
        score(f"{set_name} + LR", set_name, model.predict_proba(feats["test"][cols].to_numpy(float)),
              time.perf_counter() - t)

    # the image model: probabilities on the same PublicTest / PrivateTest faces
    t = time.perf_counter()
    name = pick_image_model() if image_model == "auto" else (None if image_model == "hog" else image_model)
    img_val = img_test = None
    if name is not None:
        saved = data.load_predictions(name)
        if len(saved["val_y"]) == len(data.load_fer_arrays("val")[1]) and \
                len(saved["test_y"]) == len(data.load_fer_arrays("test")[1]) and \
                np.array_equal(saved["val_y"][index["val"]], y["val"]) and \
                np.array_equal(saved["test_y"][index["test"]], y["test"]):
            img_val, img_test = saved["val_proba"][index["val"]], saved["test_proba"][index["test"]]
            description = f"{name} (saved predictions of the video benchmark)"
        else:  # saved on a different subset: cannot be aligned with these faces
            name = None
    if name is None:
        from .baselines import hog_linear_svm

        if isinstance(image_train, str) and image_train == "same":
            Xi, yi, which = X["train"], y["train"], "the same"
        else:
            Xi, yi = data.load_fer_arrays("train", limit=image_train, seed=seed)
            which = "all" if image_train is None else "a stratified subset of"
        hog = hog_linear_svm().fit(data.to_model_input(Xi), yi)
        img_val = hog.predict_proba(data.to_model_input(X["val"]))
        img_test = hog.predict_proba(data.to_model_input(X["test"]))
        description = f"HOG + linear SVM (trained here on {which} {len(yi)} Training faces)"
    score("image model", "pixels", img_test, time.perf_counter() - t)

    def stack(inputs_val, inputs_test, label, features):
        t = time.perf_counter()
        from sklearn.linear_model import LogisticRegression

        combiner = LogisticRegression(C=1.0, max_iter=3000, random_state=seed)
        combiner.fit(np.hstack([_log(p) for p in inputs_val]), y["val"])  # fit on PublicTest only
        score(label, features, combiner.predict_proba(np.hstack([_log(p) for p in inputs_test])),
              time.perf_counter() - t)

    stack([img_val], [img_test], "image model, recalibrated on PublicTest", "pixels")
    stack([img_val, val_proba["blendshapes"]], [img_test, proba["blendshapes + LR"]],
          "image model + blendshapes (stacked)", "pixels + blendshapes")
    stack([img_val, val_proba["geometry"]], [img_test, proba["geometry + LR"]],
          "image model + geometry (stacked)", "pixels + geometry")
    stack([img_val, val_proba["blendshapes + geometry"]], [img_test, proba["blendshapes + geometry + LR"]],
          "image model + blendshapes + geometry (stacked)", "pixels + blendshapes + geometry")
    majority = evaluation.majority_baseline(y["train"], y["test"])
    rows.append({"model": "majority class", "features": "-", "accuracy": majority, "macro_f1": np.nan,
                 "uar": 1 / 7, "accuracy_on_found": np.nan, "n_test": len(y["test"]), "seconds": 0.0})
    table = pd.DataFrame(rows)
    return {"table": table, "detection": detection, "ms_per_face": float(np.nanmean(list(ms.values()))),
            "image_model": description, "chosen_C": chosen, "features": feats, "y": y, "proba": proba,
            "val_proba": val_proba, "index": index,
            "models": models, "feature_sets": sets, "sizes": {k: len(v) for k, v in y.items()}}
