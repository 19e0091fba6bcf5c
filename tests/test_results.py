import json

import pytest

from mmer_utils import results


def test_record_metric_replaces_the_same_metric_and_keeps_others(isolated_root, tmp_path):
    results.record_metric("svm", "actor folds", "accuracy", 0.5, notebook="02_audio/01_x.ipynb")
    results.record_metric("svm", "actor folds", "accuracy", 0.6, notebook="02_audio/01_x.ipynb")
    results.record_metric("svm", "actor folds", "uar", 0.55, notebook="02_audio/01_x.ipynb")
    recs = results.load_metrics(tmp_path / "metrics")
    assert [(r["metric"], r["value"]) for r in recs] == [("accuracy", 0.6), ("uar", 0.55)]


def test_benchmark_records_and_results_md(tmp_path):
    rec = results.BenchRecord(chapter="audio", model="MFCC + SVM", protocol="6 actor folds", split="test",
                              metric="accuracy", value=0.6123, train_seconds=12.3,
                              command="python -m mmer_utils.bench audio --full")
    path = results.save_records("audio", [rec], directory=tmp_path)
    data = json.loads(path.read_text())
    assert set(results.RECORD_FIELDS) <= set(data[0])
    assert data[0]["machine"] and data[0]["date"]
    # a later run replaces its own row and keeps the others
    rec2 = results.BenchRecord(**{**rec.__dict__, "value": 0.7})
    other = results.BenchRecord(**{**rec.__dict__, "model": "CNN-LSTM"})
    results.save_records("audio", [rec2, other], directory=tmp_path)
    data = json.loads(path.read_text())
    assert sorted((r["model"], r["value"]) for r in data) == [("CNN-LSTM", 0.6123), ("MFCC + SVM", 0.7)]
    md = results.write_results_md(tmp_path / "RESULTS.md", directory=tmp_path).read_text()
    assert "| MFCC + SVM | 6 actor folds | test | accuracy | 70.0 % | 12 s | `python -m mmer_utils.bench audio --full` |" in md


def test_a_benchmark_that_owns_a_prefix_drops_its_stale_rows(tmp_path):
    def rec(model, value=0.5):
        return results.BenchRecord(chapter="video", model=model, protocol="p", split="test", metric="accuracy",
                                   value=value, train_seconds=None, command="c")

    results.save_records("video", [rec("mini-XCeption"), rec("landmarks: image model: HOG"), rec("landmarks: LR")],
                         directory=tmp_path)
    path = results.save_records("video", [rec("landmarks: image model: CNN"), rec("landmarks: LR", 0.6)],
                                directory=tmp_path, owned_prefix="landmarks: ")
    data = json.loads(path.read_text())
    assert sorted((r["model"], r["value"]) for r in data) == [
        ("landmarks: LR", 0.6), ("landmarks: image model: CNN", 0.5), ("mini-XCeption", 0.5)]


def test_records_missing_fields_are_refused(tmp_path):
    with pytest.raises(ValueError, match="lacks"):
        results.save_records("x", [{"chapter": "x", "model": "m"}], directory=tmp_path)


def test_bench_cli_report_and_unknown_benchmark(tmp_path, monkeypatch, capsys):
    from mmer_utils import config
    from mmer_utils.bench.__main__ import main

    monkeypatch.setattr(config, "repo_root", lambda: tmp_path)
    (tmp_path / "results").mkdir()
    results.save_records("audio", [results.BenchRecord("audio", "m", "p", "test", "accuracy", 0.5, 1.0, "cmd")])
    assert main(["report"]) == 0
    assert "| m | p | test | accuracy | 50.0 % |" in (tmp_path / "RESULTS.md").read_text()
    assert main(["no-such-chapter"]) == 2
    assert "available: report" in capsys.readouterr().err


def test_every_registered_benchmark_exists():
    import importlib
    import inspect

    from mmer_utils.bench import CHAPTERS

    for name, target in CHAPTERS.items():
        module, func = target.split(":")
        fn = getattr(importlib.import_module(module), func)
        assert {"full", "command"} <= set(inspect.signature(fn).parameters), name


def test_recorded_command_carries_the_settings_that_change_a_benchmark():
    from mmer_utils.bench.__main__ import settings_prefix

    env = {"MMER_DATA_DIR": "/data", "MMER_CACHE_DIR": "/c", "MMER_BIGFIVE_MODELS": "TF-IDF + LR,stacked",
           "MMER_BIGFIVE_DEEP": "0", "HOME": "/root"}
    assert settings_prefix(env) == ["MMER_BIGFIVE_DEEP=0", "MMER_BIGFIVE_MODELS='TF-IDF + LR,stacked'"]
