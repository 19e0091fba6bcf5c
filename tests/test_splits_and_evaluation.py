import numpy as np
import pandas as pd
import pytest

from mmer_utils import evaluation, splits


def test_actor_folds_partition_the_24_actors_balanced_by_sex():
    folds = splits.actor_folds()
    assert len(folds) == 6
    flat = [a for f in folds for a in f]
    assert sorted(flat) == list(range(1, 25))
    for fold in folds:
        assert sum(a % 2 for a in fold) == 2  # two men (odd ids), two women


def test_actor_split_never_shares_an_actor():
    actors = np.repeat(np.arange(1, 25), 60)
    for fold, masks in splits.iter_actor_splits(actors):
        assert not (masks["train"] & masks["test"]).any()
        assert not (masks["train"] & masks["val"]).any()
        assert not (masks["val"] & masks["test"]).any()
        assert (masks["train"] | masks["val"] | masks["test"]).all()
        assert set(actors[masks["test"]]) == set(splits.actor_folds()[fold])
        assert len(set(actors[masks["train"]])) == 16


def test_fer_split_and_kfold_are_fixed():
    df = pd.DataFrame({"usage": ["Training", "PublicTest", "PrivateTest", "Training"]})
    m = splits.fer_split(df)
    assert m["train"].tolist() == [True, False, False, True] and m["test"].tolist() == [False, False, True, False]
    a = splits.kfold_indices(100, n_splits=10, seed=1)
    b = splits.kfold_indices(100, n_splits=10, seed=1)
    assert all((x[1] == y[1]).all() for x, y in zip(a, b))
    assert sorted(np.concatenate([t for _, t in a]).tolist()) == list(range(100))


def test_metrics_on_a_worked_example():
    y = ["a", "a", "a", "b"]
    p = ["a", "a", "b", "b"]
    s = evaluation.classification_scores(y, p)
    assert s["accuracy"] == pytest.approx(0.75)
    assert s["uar"] == pytest.approx((2 / 3 + 1) / 2)
    assert s["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)
    assert s["weighted_f1"] == pytest.approx(0.75 * 0.8 + 0.25 * 2 / 3)
    assert evaluation.majority_baseline(["x", "x", "y"], ["x", "y"]) == 0.5
    r = evaluation.per_class_recall(y, p, labels=["a", "b"])
    assert r["a"] == pytest.approx(2 / 3) and r["b"] == 1.0


def test_confusion_matrix_plot_normalises_rows():
    import matplotlib

    matplotlib.use("Agg")
    ax = evaluation.plot_confusion_matrix(["a", "a", "b"], ["a", "b", "b"], labels=["a", "b"], title="t")
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["0.50", "0.50", "0.00", "1.00"]


def test_mcnemar_counts_only_disagreements():
    y = np.zeros(200, dtype=int)
    a = np.r_[np.zeros(150), np.ones(50)].astype(int)          # 150 right
    b = np.r_[np.zeros(100), np.ones(50), np.zeros(50)].astype(int)  # 150 right, other ones
    same = evaluation.mcnemar_test(y, a, b)
    assert (same["a_only"], same["b_only"], same["difference"]) == (50, 50, 0.0) and same["p_value"] == 1.0
    # 12 disagreements, all won by a: significant; 7 to 5: not
    c = a.copy(); c[150:162] = 0
    assert evaluation.mcnemar_test(y, c, a)["p_value"] < 0.001
    d = a.copy(); d[150:157] = 0; d[:5] = 1
    r = evaluation.mcnemar_test(y, d, a)
    assert (r["a_only"], r["b_only"]) == (7, 5) and r["p_value"] > 0.5
    assert evaluation.mcnemar_test(y, a, a)["p_value"] == 1.0
    with pytest.raises(ValueError, match="same 1-D shape"):
        evaluation.mcnemar_test(y, a[:10], a)


# --------------------------------------------------------------------------- the one cross-validation loop


def test_actor_fold_splits_keep_actors_apart_and_name_the_test_actors():
    actors = np.tile(np.arange(1, 25), 3)
    folds = evaluation.actor_fold_splits(actors)
    assert len(folds) == 6 and sorted(np.concatenate([f.test for f in folds]).tolist()) == list(range(72))
    for f in folds:
        assert not set(actors[f.train]) & set(actors[f.test]) and not set(actors[f.val]) & set(actors[f.test])
        assert f.info["test_actors"] == ", ".join(map(str, sorted(set(actors[f.test].tolist()))))
    merged = evaluation.actor_fold_splits(actors, folds=[2], merge_val=True)
    assert [f.fold for f in merged] == [2] and merged[0].val is None
    assert len(merged[0].train) == len(folds[2].train) + len(folds[2].val)


def test_run_folds_refuses_overlap_times_reports_and_resumes_from_its_cache(tmp_path):
    calls = []

    def fit_predict(fold):
        calls.append(fold.fold)
        return {"proba": np.full((len(fold.test), 2), fold.fold, dtype=float), "model": object()}

    folds = [evaluation.Fold(0, np.arange(0, 5), np.arange(5, 8)), evaluation.Fold(1, np.arange(3, 8), np.arange(0, 3))]
    seen = []
    out = evaluation.run_folds(fit_predict, folds, cache_dir=tmp_path, on_fold=lambda o: seen.append(o["fold"].fold))
    assert calls == [0, 1] and seen == [0, 1] and [o["cached"] for o in out] == [False, False]
    assert all(o["fit_seconds"] >= 0 for o in out)
    again = evaluation.run_folds(fit_predict, folds, cache_dir=tmp_path)
    assert calls == [0, 1] and all(o["cached"] for o in again)  # nothing trained again
    np.testing.assert_array_equal(again[1]["proba"], out[1]["proba"])
    with pytest.raises(ValueError, match="other folds"):
        evaluation.run_folds(fit_predict, [evaluation.Fold(0, np.arange(0, 5), np.arange(6, 8))], cache_dir=tmp_path)
    # a fit_predict that reads a fold from its own store keeps the original training time
    kept = evaluation.run_folds(lambda f: {"pred": np.zeros(len(f.test)), "fit_seconds": 123.0, "cached": True},
                                folds[:1])
    assert kept[0]["fit_seconds"] == 123.0 and kept[0]["cached"]
    with pytest.raises(ValueError, match="overlap"):
        evaluation.run_folds(fit_predict, [evaluation.Fold(0, np.arange(0, 5), np.arange(4, 8))])
    with pytest.raises(ValueError, match="overlap"):
        evaluation.run_folds(fit_predict, [evaluation.Fold(0, np.arange(0, 3), np.arange(6, 8), val=np.arange(2, 4))])


def test_pooled_results_pool_the_folds_in_label_order():
    y = np.array(["a", "b", "a", "b", "a", "b"])
    folds = [evaluation.Fold(0, np.array([2, 3, 4, 5]), np.array([0, 1]), info={"test_actors": "1"}),
             evaluation.Fold(1, np.array([0, 1, 4, 5]), np.array([2, 3]), info={"test_actors": "2"})]
    labels = ["b", "a"]  # probability columns follow labels, not the sorted classes
    outputs = [{"fold": folds[0], "proba": np.array([[0.1, 0.9], [0.8, 0.2]]), "fit_seconds": 1.0, "model": "m0"},
               {"fold": folds[1], "proba": np.array([[0.7, 0.3], [0.6, 0.4]]), "fit_seconds": 2.0, "model": "m1",
                "row": {"best_params": {"C": 1}}}]
    res = evaluation.pooled_results("toy", outputs, y, labels=labels, name="toy model", keep_models=True)
    assert res.y_pred.tolist() == ["a", "b", "b", "b"] and res.index.tolist() == [0, 1, 2, 3]
    assert res.pooled["accuracy"] == 0.75 and res.fit_seconds == 3.0 and res.models == ["m0", "m1"]
    assert res.per_fold["accuracy"].tolist() == [1.0, 0.5] and res.per_fold["test_actors"].tolist() == ["1", "2"]
    assert res.proba.shape == (4, 2) and res.name == "toy model"
    assert res.per_class_recall().to_dict() == {"b": 1.0, "a": 0.5}
    assert res.summary()["fold_accuracy_mean"] == 0.75


def test_pooled_results_keep_labels_longer_than_any_true_label():
    y = np.array(["sad", "sad"])  # a fixed-width string array: <U3
    fold = evaluation.Fold(0, np.array([1]), np.array([0]))
    res = evaluation.pooled_results("toy", [{"fold": fold, "proba": np.array([[0.2, 0.8]]), "fit_seconds": 0.0}],
                                    y, labels=["sad", "surprised"])
    assert res.y_pred.tolist() == ["surprised"] and res.pooled["accuracy"] == 0.0


def test_rescored_keeps_the_folds_and_scores_the_new_probabilities():
    y = np.array(["a", "b", "a", "b", "a", "b"])
    folds = [evaluation.Fold(0, np.array([2, 3, 4, 5]), np.array([0, 1]), info={"test_actors": "1"}),
             evaluation.Fold(1, np.array([0, 1, 4, 5]), np.array([2, 3]), info={"test_actors": "2"})]
    outputs = [{"fold": f, "pred": np.array(["a", "a"]), "fit_seconds": 1.0, "row": {"best_params": {"C": 1}}}
               for f in folds]
    run = evaluation.pooled_results("toy", outputs, y, labels=["a", "b"])
    # columns follow labels: ("b", "a") turns the same table into the opposite predictions
    proba = np.array([[0.9, 0.1], [0.3, 0.7], [0.4, 0.6], [0.2, 0.8]])
    new = evaluation.rescored(run, proba, name="other")
    assert new.y_pred.tolist() == ["a", "b", "b", "b"] and new.y_pred.dtype.kind == "U"
    assert new.per_fold["accuracy"].tolist() == [1.0, 0.5] and new.pooled["accuracy"] == 0.75
    assert new.per_fold.columns.tolist() == ["fold", "test_actors", "n_test", "accuracy"]
    assert new.index.tolist() == run.index.tolist() and new.fit_seconds == 2.0 and new.name == "other"
    flipped = evaluation.rescored(run, proba, labels=["b", "a"])
    assert flipped.y_pred.tolist() == ["b", "a", "a", "a"] and flipped.pooled["accuracy"] == 0.25
    assert run.y_pred.tolist() == ["a", "a", "a", "a"]   # the template is not changed
    with pytest.raises(ValueError, match="one row per test row"):
        evaluation.rescored(run, proba[:3])


def test_recall_table_puts_runs_side_by_side():
    y = np.array(["a", "b", "a", "b"])
    fold = evaluation.Fold(0, np.array([0]), np.array([1, 2, 3]))
    runs = {name: evaluation.pooled_results("toy", [{"fold": fold, "pred": pred, "fit_seconds": 0.0}], y,
                                            labels=["a", "b"])
            for name, pred in {"right": np.array(["b", "a", "b"]), "all a": np.array(["a", "a", "a"])}.items()}
    table = evaluation.recall_table(runs)
    assert table.to_dict() == {"right": {"a": 1.0, "b": 1.0}, "all a": {"a": 1.0, "b": 0.0}}
