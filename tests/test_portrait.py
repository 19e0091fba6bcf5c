"""The candidate portrait: store, combination, HTML, and the command line on interviews made of real data."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import threading

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, real_dataset
from mmer_utils.labels import SHARED
from mmer_utils.portrait import (CandidateStore, Portrait, StoreError, agreement_table, combine, js_similarity,
                                 pairwise_similarity, percentile_of, render_html)
from mmer_utils.portrait.store import SCHEMA_VERSION
from mmer_utils.timeline import TIMELINE_COLUMNS

SECTIONS = ("how-to-read", "traits", "text-emotion", "words", "voice", "face", "most-frequent", "combined",
            "comparison", "models")


# --------------------------------------------------------------------------- store


def test_store_percentiles_on_known_values(tmp_path):
    store = CandidateStore(tmp_path / "c.sqlite")
    ids = [store.add(name, {"trait": {"openness": v, "extraversion": 1 - v}, "combined": {"happy": v}})
           for name, v in (("a", 0.2), ("b", 0.4), ("c", 0.6))]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert list(store.candidates()["name"]) == ["a", "b", "c"]
    table = store.percentiles({"trait": {"openness": 0.5, "extraversion": 0.9}, "combined": {"happy": 0.4}})
    got = table.set_index(["kind", "key"])["percentile"]
    assert got[("trait", "openness")] == pytest.approx(100 * 2 / 3)      # above 0.2 and 0.4
    assert got[("trait", "extraversion")] == pytest.approx(100.0)       # above 0.8, 0.6, 0.4
    assert got[("combined", "happy")] == pytest.approx(50.0)            # above 0.2, ties 0.4: 1 + 0.5 of 3
    assert set(table["n_others"]) == {3}
    # the candidate itself is left out of its own comparison
    own = store.percentiles({"trait": {"openness": 0.6}}, exclude_id=ids[2])
    assert own["percentile"].iloc[0] == pytest.approx(100.0) and own["n_others"].iloc[0] == 2
    assert store.scores("trait").loc[ids[1], "openness"] == pytest.approx(0.4)
    assert store.count() == 3 and store.count(exclude_id=ids[0]) == 2
    assert store.remove(ids[0]) and not store.remove(ids[0])
    assert store.count() == 2 and ids[0] not in store.scores("trait").index


def test_docstring_examples():
    import doctest

    from mmer_utils.portrait import report, store

    for module in (store, report):
        failed, attempted = doctest.testmod(module)
        assert attempted > 0 and failed == 0, module.__name__


def test_percentile_of_edge_cases():
    assert percentile_of([1, 2, 3, 4], 0) == 0.0 and percentile_of([1, 2, 3, 4], 5) == 100.0
    assert percentile_of([2, 2], 2) == 50.0
    assert np.isnan(percentile_of([], 1.0))


def test_store_refuses_bad_scores_and_other_databases(tmp_path):
    store = CandidateStore(tmp_path / "c.sqlite")
    with pytest.raises(StoreError, match="finite"):
        store.add("x", {"trait": {"openness": float("nan")}})
    with pytest.raises(StoreError, match="no scores"):
        store.add("x", {})
    assert store.count() == 0  # the failed add left nothing behind
    newer = tmp_path / "newer.sqlite"
    with sqlite3.connect(newer) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="schema version"):
        CandidateStore(newer)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(StoreError, match="something else"):
        CandidateStore(other)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError):
        CandidateStore(junk)


def test_store_concurrent_writers_lose_nothing(tmp_path):
    path = tmp_path / "c.sqlite"
    CandidateStore(path)
    errors = []

    def writer(k):
        try:
            store = CandidateStore(path)  # one connection per write, as separate processes would
            for i in range(15):
                store.add(f"w{k}-{i}", {"trait": {"openness": i / 15}, "combined": {"happy": k / 4}})
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    store = CandidateStore(path)
    assert store.count() == 60
    assert store.scores("trait").shape == (60, 1) and store.scores("combined").notna().all().all()


# --------------------------------------------------------------------------- combination


def test_js_similarity_and_pairwise():
    assert js_similarity([1, 0], [0, 1]) == pytest.approx(0.0)
    assert js_similarity([0.3, 0.7], [0.3, 0.7]) == pytest.approx(1.0)
    assert 0 < js_similarity([0.6, 0.4], [0.4, 0.6]) < 1
    shared = pd.DataFrame(np.eye(7)[[3, 3, 4]], index=["text", "voice", "face"], columns=SHARED)
    sim = pairwise_similarity(shared)
    assert sim.loc["text", "voice"] == pytest.approx(1.0) and sim.loc["text", "face"] == pytest.approx(0.0)


def test_combine_respects_coverage_and_weights():
    # dair-ai labels cannot say neutral or disgust: only the face votes on them
    p_face = np.array([0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.4])                    # FER2013 order = SHARED order
    p_text = np.array([0.25, 0.25, 0.0, 0.25, 0.25, 0.0])                     # sadness joy love anger fear surprise
    plain = combine({"face": p_face, "text": p_text}, {"face": "fer2013", "text": "emotion"})
    both = (0.1 + 0.25) / 2
    raw = np.array([both, 0.1, both, both, both, (0.1 + 0.0) / 2, 0.4])     # disgust, neutral: the face alone
    np.testing.assert_allclose(plain.to_numpy(), raw / raw.sum())
    assert list(plain.index) == list(SHARED) and plain.sum() == pytest.approx(1.0)
    p_other = np.array([0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0])
    weighted = combine({"face": p_face, "other": p_other}, {"face": "fer2013", "other": "fer2013"},
                       weights={"face": 3.0, "other": 1.0})
    np.testing.assert_allclose(weighted.to_numpy(), (3 * p_face + p_other) / 4)
    # RAVDESS calm and neutral add up in the shared neutral
    voice = combine({"voice": np.array([0.3, 0.3, 0.4, 0, 0, 0, 0, 0])}, {"voice": "ravdess"})
    assert voice["neutral"] == pytest.approx(0.6) and voice["happy"] == pytest.approx(0.4)
    shared = pd.DataFrame([p_face, p_other], index=["face", "other"], columns=SHARED)
    table = agreement_table(shared, weighted)
    assert weighted.idxmax() == "happy"                      # 0.325 against neutral's 0.3
    assert table.loc["other", "agrees"] and not table.loc["face", "agrees"]
    assert table.loc["face", "support"] == pytest.approx(0.1) and table.loc["other", "support"] == 1.0
    assert table.loc["face", "similarity"] > table.loc["other", "similarity"]  # 3x the weight: closer overall


def _fake_portrait(**kw) -> Portrait:
    traits = pd.Series([0.7, 0.2, 0.5, 0.55, 0.6], index=["extraversion", "neuroticism", "agreeableness",
                                                           "conscientiousness", "openness"])
    shared = pd.DataFrame([np.full(7, 1 / 7)], index=["text"], columns=SHARED)
    base = dict(name="<script>x</script>", created="2026-01-01T00:00:00+00:00",
                inputs={"text": "answer.txt", "audio": None, "video": None},
                models={"Big Five": "TF-IDF + LR"}, traits=traits, shared=shared,
                combined=combine({"text": np.full(7, 1 / 7)}, {"text": "shared"}), words=[("team", 3), ("lead", 2)])
    base.update(kw)
    p = Portrait(**base)
    p.agreement = agreement_table(p.shared, p.combined)
    p.similarity = pairwise_similarity(p.shared)
    return p


def test_html_is_self_contained_and_escaped():
    page = render_html(_fake_portrait())
    assert "<script>x</script>" not in page and "&lt;script&gt;" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    for key in SECTIONS:
        assert f'id="{key}"' in page
    assert page.count("data:image/png;base64,") == 3      # traits, words, combined
    assert "No audio given" in page and "No video given" in page
    assert "not validated psychometric measurements" in page
    assert "Most visible trait: <b>extraversion</b>" in page


def test_most_visible_trait_is_the_highest_percentile_not_the_highest_probability():
    # extraversion has the highest P(high) but openness stands out more among the writers
    pct = pd.Series([60.0, 10.0, 50.0, 55.0, 93.0], index=["extraversion", "neuroticism", "agreeableness",
                                                          "conscientiousness", "openness"])
    p = _fake_portrait(trait_percentiles=pct)
    assert p.traits.idxmax() == "extraversion" and p.most_visible_trait == "openness"
    page = render_html(p)
    assert "Most visible trait: <b>openness</b> (P(high) = 0.60, percentile 93 among the essays' writers)" in page
    assert p.to_dict()["trait_percentiles"]["openness"] == 93.0
    assert _fake_portrait().most_visible_trait == "extraversion"   # without percentiles: highest P(high)


# --------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def face_api():
    """The face modality needs FER2013 faces and the YuNet detector (contract C3's default)."""
    for name in ("fer2013", "yunet"):
        real_dataset(name)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, face_api):
    """The quick model bundle, trained once for the module (a few seconds)."""
    for name in ("meld", "essays", "ravdess", "nltk_data"):
        real_dataset(name)
    from mmer_utils.portrait import train_models

    path = tmp_path_factory.mktemp("portrait") / "models"
    train_models(path, quick=True, face="hog", verbose=False)
    return path


@pytest.fixture(scope="module")
def interview(tmp_path_factory, face_api):
    """A typed answer (held-out essay), four RAVDESS sentences of actor 24 joined, four FER PrivateTest faces."""
    for name in ("essays", "ravdess"):
        real_dataset(name)
    from mmer_utils.portrait.demo import make_demo_interview

    return make_demo_interview(tmp_path_factory.mktemp("answer"), emotions=("happy", "angry", "happy", "sad"))


def _run(argv):
    from mmer_utils.portrait.__main__ import main

    return main([str(a) for a in argv])


def test_demo_interview_is_made_of_real_data(interview):
    import soundfile as sf

    from mmer_utils.datasets import load_essays
    from mmer_utils.portrait.models import holdout_essay_ids

    text = interview["text"].read_text()
    essays = load_essays()
    held = essays[essays["author_id"].astype(str).isin(holdout_essay_ids(essays))]
    assert any(text[:60] in e for e in held["text"])
    info = sf.info(interview["audio"])
    truth = interview["truth"]["voice"]
    assert info.samplerate == 16000 and info.duration == pytest.approx(truth["end"].iloc[-1] + 0.5, abs=0.01)
    assert list(truth["label"]) == ["happy", "angry", "happy", "sad"]
    assert interview["truth"]["faces"] == ["happy", "angry", "happy", "sad"]
    assert interview["video"].stat().st_size > 0


def test_cli_full_report_and_comparison(bundle, interview, tmp_path, capsys):
    db = tmp_path / "c.sqlite"
    args = ["--text", interview["text"], "--audio", interview["audio"], "--video", interview["video"],
            "--models", bundle, "--db", db]
    assert _run(args + ["--out", tmp_path / "first", "--name", "First"]) == 0
    first = json.loads((tmp_path / "first" / "portrait.json").read_text())
    assert first["comparison"]["n_others"] == 0
    assert {r["percentile"] for r in first["comparison"]["percentiles"]} == {None}   # strict JSON: no NaN
    assert "this one is the first" in (tmp_path / "first" / "report.html").read_text()
    assert _run(args + ["--out", tmp_path / "second", "--name", "Second"]) == 0
    out = capsys.readouterr().out
    assert "most visible trait:" in out and "combined emotion:" in out

    page = (tmp_path / "second" / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page and "<script" not in page
    for key in SECTIONS:
        assert f'id="{key}"' in page
    # traits, text emotion, words, voice and face timelines, combined, two comparison plots
    assert page.count("data:image/png;base64,") == 8
    assert "Compared with 1 other candidate" in page
    assert "not validated psychometric measurements" in page

    report = json.loads((tmp_path / "second" / "portrait.json").read_text())
    assert report["most_visible_trait"] in report["traits"]
    pct = report["trait_percentiles"]
    assert set(pct) == set(report["traits"]) and all(0 <= v <= 100 for v in pct.values())
    assert report["most_visible_trait"] == max(pct, key=pct.get)
    assert sum(report["scores"]["combined"].values()) == pytest.approx(1.0)
    assert report["combined_emotion"] == max(report["combined"], key=report["combined"].get)
    assert set(report["most_frequent"]) == {"text", "voice", "face"}
    assert set(report["agreement"]) == {"text", "voice", "face"}
    assert report["comparison"]["n_others"] == 1
    words = [w for w, _ in report["most_common_words"]]
    assert words and all(w == w.lower() for w in words) and not {"the", "and", "i", "a", "to", "it"} & set(words)
    # the same answer twice: every percentile of the second is 50 (one tie)
    assert {round(r["percentile"], 6) for r in report["comparison"]["percentiles"]} == {50.0}

    voice = pd.read_csv(tmp_path / "second" / "voice_timeline.csv")
    duration = interview["truth"]["voice"]["end"].iloc[-1] + 0.5
    assert len(voice) == int(np.ceil(duration - 2.0)) + 1          # 2 s windows every second
    assert (voice["emotion"] == "silence").any() and (voice["emotion"] != "silence").any()
    faces = pd.read_csv(tmp_path / "second" / "face_timeline.csv")
    assert len(faces) >= 10 and faces["time"].max() < 4.0 and set(faces["emotion"]) <= set(SHARED)
    assert faces["frame"].is_unique
    # one timeline format for both: the shared columns first, then each modality's own
    assert list(voice.columns) == [*TIMELINE_COLUMNS, "start", "end"]
    assert list(faces.columns) == [*TIMELINE_COLUMNS, "frame", "face", "x", "y", "w", "h", "score"]
    speech = voice[voice["emotion"] != "silence"]
    assert np.allclose(speech[list(SHARED)].sum(axis=1), 1) and np.allclose(faces[list(SHARED)].sum(axis=1), 1)
    assert report["most_frequent"]["voice"]["emotion"] in SHARED

    store = CandidateStore(db)
    assert list(store.candidates()["name"]) == ["First", "Second"]
    assert set(store.kinds()) == {"trait", "text", "voice", "face", "combined"}


def test_omitted_modalities_are_said(bundle, interview, tmp_path):
    assert _run(["--audio", interview["audio"], "--models", bundle, "--out", tmp_path / "r", "--no-compare"]) == 0
    page = (tmp_path / "r" / "report.html").read_text()
    assert "Not given: text, video" in page
    assert "No text answer given: no traits." in page and "No video given" in page
    assert "Not compared with other candidates" in page
    report = json.loads((tmp_path / "r" / "portrait.json").read_text())
    assert report["inputs"] == {"text": None, "audio": "answer.wav", "video": None}
    assert report["traits"] is None and set(report["most_frequent"]) == {"voice"}
    assert "One modality only" in page


def _faceless_video(path):
    from mmer_utils.video.io import VideoWriter

    with VideoWriter(path, fps=10) as writer:
        for i in range(20):
            writer.write(np.full((240, 320, 3), 90 + i, np.uint8))
    return path


def test_a_video_without_a_face_says_so(bundle, interview, tmp_path, capsys):
    """Alone, a faceless video is one line saying no face was found (not "no scores to store"), and nothing is
    stored; beside a good text, the text is kept and the report says why the video was left out."""
    video = _faceless_video(tmp_path / "empty_room.mp4")
    db = tmp_path / "c.sqlite"
    assert _run(["--video", video, "--models", bundle, "--out", tmp_path / "r", "--db", db]) == 2
    err = capsys.readouterr().err
    assert err == "error: no face was found in the 10 frames of empty_room.mp4: no face emotion " \
                  "(film the face from the front, in good light)\n"
    assert not (tmp_path / "r").exists() and CandidateStore(db).count() == 0

    assert _run(["--text", interview["text"], "--video", video, "--models", bundle, "--out", tmp_path / "r2",
                 "--db", db]) == 0
    assert "warning: video left out: no face was found" in capsys.readouterr().err
    report = json.loads((tmp_path / "r2" / "portrait.json").read_text())
    assert set(report["problems"]) == {"video"} and report["traits"] and set(report["most_frequent"]) == {"text"}
    page = (tmp_path / "r2" / "report.html").read_text()
    assert 'id="left-out"' in page and "video given but left out: no face was found" in page
    assert CandidateStore(db).count() == 1


def test_one_bad_input_among_good_ones_keeps_the_good_ones(bundle, interview, tmp_path, capsys):
    import soundfile as sf

    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000 * 3, np.float32), 16000)
    db = tmp_path / "c.sqlite"
    code = _run(["--text", interview["text"], "--audio", silent, "--video", interview["video"], "--models", bundle,
                 "--out", tmp_path / "r", "--db", db])
    assert code == 0
    err = capsys.readouterr().err
    assert err == "warning: audio left out: silent.wav is silent (RMS below 0.0001)\n"
    report = json.loads((tmp_path / "r" / "portrait.json").read_text())
    assert report["problems"] == {"audio": "silent.wav is silent (RMS below 0.0001)"}
    assert set(report["most_frequent"]) == {"text", "face"} and report["traits"]
    assert report["inputs"]["audio"] == "silent.wav"
    page = (tmp_path / "r" / "report.html").read_text()
    assert "audio given but left out: silent.wav is silent" in page
    assert set(CandidateStore(db).kinds()) == {"trait", "text", "face", "combined"}
    assert list(CandidateStore(db).candidates()["inputs"]) == ["text, video"]     # what was analysed
    assert _run(["candidates", "--db", db]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0] == f"1 candidate in {db}" and listing[1].split() == ["id", "name", "created", "inputs"]
    # every input bad: one line naming each, nothing stored
    empty = tmp_path / "empty.txt"
    empty.write_text(" ")
    assert _run(["--text", empty, "--audio", silent, "--models", bundle, "--out", tmp_path / "r2", "--db", db]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: nothing to analyse: text: ") and "audio: " in err and err.count("\n") == 1
    assert CandidateStore(db).count() == 1 and not (tmp_path / "r2").exists()


def test_out_naming_an_existing_file_stops_before_anything_is_stored(bundle, interview, tmp_path, capsys):
    existing = tmp_path / "report.html"
    existing.write_text("an older report")
    db = tmp_path / "c.sqlite"
    assert _run(["--text", interview["text"], "--models", bundle, "--out", existing, "--db", db]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: --out {existing} is an existing file; give a folder for the report "
                   "(report.html, figures/, portrait.json are written inside it)\n")
    assert existing.read_text() == "an older report" and CandidateStore(db).count() == 0


def test_doubtful_answers_get_a_caveat_in_the_report(bundle, interview, tmp_path, capsys):
    """A 3-word answer, a German one, a Chinese one, a WAV cut in half and a binary file given as text."""
    three = tmp_path / "three.txt"
    three.write_text("I like teams.")
    assert _run(["--text", three, "--models", bundle, "--out", tmp_path / "three", "--no-compare"]) == 0
    assert "warning: text: only 3 words (fewer than 50)" in capsys.readouterr().err
    page = (tmp_path / "three" / "report.html").read_text()
    assert 'id="caveats"' in page and "only 3 words (fewer than 50): the trait estimates are close to chance" in page

    german = tmp_path / "german.txt"
    german.write_text("Ich habe im letzten Jahr ein Team von fünf Leuten geleitet. Die Arbeit war schwer, aber ich "
                      "habe viel gelernt, und wir haben das Projekt pünktlich abgeschlossen. " * 3, encoding="utf-8")
    assert _run(["--text", german, "--models", bundle, "--out", tmp_path / "de", "--no-compare"]) == 0
    capsys.readouterr()
    caveats = json.loads((tmp_path / "de" / "portrait.json").read_text())["caveats"]
    language = next(c for c in caveats if "read English" in c)
    assert re.search(r"they recognise \d+ of the 81 words of this text \(\d+ %\)", language), language

    chinese = tmp_path / "chinese.txt"
    chinese.write_text("去年我带领一个五人团队完成了一个项目。工作很辛苦，但是我学到了很多东西。", encoding="utf-8")
    assert _run(["--text", chinese, "--models", bundle, "--out", tmp_path / "zh", "--no-compare"]) == 2
    assert capsys.readouterr().err == (f"error: {chinese.name} has no English words to analyse: the models read English "
                                       "and recognise none of its 3 words\n")

    raw = interview["audio"].read_bytes()
    half = tmp_path / "half.wav"
    half.write_bytes(raw[: len(raw) // 2])
    assert _run(["--audio", half, "--models", bundle, "--out", tmp_path / "half", "--no-compare"]) == 0
    err = capsys.readouterr().err
    assert re.fullmatch(r"warning: audio: half\.wav is cut short: its header announces (\d+\.\d) s but the file "
                        r"holds (\d+\.\d) s \(an interrupted copy or recording\?\); only what is there was analysed\n",
                        err), err
    assert "half.wav is cut short" in (tmp_path / "half" / "report.html").read_text()
    from mmer_utils.portrait.report import truncated_wav

    announced, present = truncated_wav(half)
    assert present == pytest.approx(announced / 2, abs=0.01) and truncated_wav(interview["audio"]) is None

    assert _run(["--text", interview["video"], "--models", bundle, "--out", tmp_path / "bin", "--no-compare"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {interview['video'].name} is not a text file (it holds binary data): give a plain-text " \
                  "(.txt) file\n"


def test_report_cosmetics(bundle, interview, tmp_path):
    """Whole-number percentiles, no empty header row, whole-number ticks on counts, the report as readable as its
    figures, "1 other candidate" in the singular."""
    db = tmp_path / "c.sqlite"
    args = ["--text", interview["text"], "--models", bundle, "--db", db]
    assert _run(args + ["--out", tmp_path / "a"]) == 0
    assert _run(args + ["--out", tmp_path / "b"]) == 0
    page = (tmp_path / "b" / "report.html").read_text()
    assert "1 other candidates" not in page and "With 1 other candidate a percentile moves by 100 points" in page
    traits = page[page.index('<section id="traits">'):page.index('<section id="text-emotion">')]
    assert "<thead><tr><th>trait</th><th>P(high)</th>" in traits and traits.count("<tr>") == 6   # header + 5
    for cell in re.findall(r"<tr><td>[a-z]+</td><td>([^<]*)</td><td>([^<]*)</td></tr>", traits):
        assert re.fullmatch(r"0\.\d\d", cell[0]) and re.fullmatch(r"\d{1,3}", cell[1]), cell
    comparison = page[page.index('<section id="comparison">'):page.index('<section id="models">')]
    assert not re.search(r"<td>\d+\.\d{3}</td>", comparison)
    figures = list((tmp_path / "b" / "figures").glob("*.png"))
    assert figures and {f.stat().st_mode & 0o777 for f in figures} == {(tmp_path / "b" / "report.html").stat().st_mode
                                                                        & 0o777}
    from mmer_utils.portrait.html import plot_words

    ax = plot_words([("team", 3), ("lead", 2), ("project", 1)])
    ax.figure.canvas.draw()
    assert all(float(t).is_integer() for t in ax.get_xticks())


def test_percentile_is_scipys_mean_kind():
    from scipy.stats import percentileofscore

    rng = np.random.default_rng(0)
    values = rng.integers(0, 5, 40).astype(float)
    for x in (-1.0, 0.0, 2.0, 2.5, 4.0, 9.0):
        assert percentile_of(values, x) == pytest.approx(percentileofscore(values, x, kind="mean"))
    assert percentile_of([np.nan, 1.0, 3.0], 2.0) == 50.0


def test_train_command_and_a_bundle_without_a_modality(tmp_path, interview, capsys):
    real_dataset("meld")
    real_dataset("essays")
    models = tmp_path / "text_only"
    assert _run(["train", "--quick", "--models", models, "--modalities", "text"]) == 0
    info = json.loads((models / "bundle.json").read_text())
    assert info["quick"] and set(info["files"]) == {"text_emotion", "bigfive"} and len(info["holdout_essays"]) == 30
    assert sorted(p.name for p in models.iterdir()) == ["bigfive.skops", "bundle.json", "text_emotion.skops"]
    code = _run(["--audio", interview["audio"], "--models", models, "--out", tmp_path / "r", "--no-compare"])
    assert code == 2 and "no voice model" in capsys.readouterr().err
    assert _run(["--text", interview["text"], "--models", models, "--out", tmp_path / "r", "--no-compare"]) == 0


def test_bad_inputs_are_one_line_errors(bundle, interview, tmp_path, capsys):
    import soundfile as sf

    empty = tmp_path / "empty.txt"
    empty.write_text("   \n")
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000 * 3, np.float32), 16000)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    cases = [
        (["--text", tmp_path / "missing.txt"], "not found"),
        (["--text", empty], "empty"),
        (["--audio", silent], "silent"),
        (["--video", corrupt], "video"),
        ([], "no input"),
    ]
    for extra, message in cases:
        code = _run(extra + ["--models", bundle, "--out", tmp_path / "r", "--no-compare"])
        err = capsys.readouterr().err
        assert code == 2 and message in err and err.count("\n") == 1, (extra, err)
    assert not (tmp_path / "r").exists()
    # no bundle: the error names the command that trains one
    code = _run(["--text", interview["text"], "--models", tmp_path / "nowhere", "--out", tmp_path / "r"])
    assert code == 2 and "python -m mmer_utils.portrait train" in capsys.readouterr().err


def test_module_runs_as_a_command(tmp_path):
    out = subprocess.run([sys.executable, "-m", "mmer_utils.portrait", "--text", tmp_path / "none.txt",
                          "--models", tmp_path / "nowhere", "--out", tmp_path / "r"],
                         capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 2 and "portrait train" in out.stderr


# --------------------------------------------------------------------------- shipped models


def _serve(bundle):
    """What the model store would load for each shipped name: the bundle's files, through each class's ``load``."""
    from mmer_utils.audio.predict import AudioEmotionModel
    from mmer_utils.text.predict import TextAnswerModel, TextEmotionModel
    from mmer_utils.video.predict import FaceEmotionModel

    return {"bigfive": TextAnswerModel.load(bundle / "bigfive.skops"),
            "text_emotion": TextEmotionModel.load(bundle / "text_emotion.skops"),
            "voice_emotion": AudioEmotionModel.load(bundle / "voice.skops"),
            "face_emotion": FaceEmotionModel.load(bundle / "face.skops")}


def _fake_store(monkeypatch, served):
    store = pytest.importorskip("mmer_utils.models")
    calls = []

    def load(name, **kwargs):
        calls.append(name)
        return served[name]

    monkeypatch.setattr(store, "list_models", lambda: sorted(served))
    monkeypatch.setattr(store, "load", load)
    monkeypatch.setattr(store, "info", lambda name: {"title": f"shipped {name}", "training_data": "all of it"})
    return calls


def test_bundle_files_are_safe_formats(bundle):
    info = json.loads((bundle / "bundle.json").read_text())
    assert info["files"] == {"bigfive": "bigfive.skops", "text_emotion": "text_emotion.skops",
                             "voice": "voice.skops", "face": "face.skops"}
    assert not list(bundle.glob("*.joblib")) and not list(bundle.glob("*.pkl"))
    from mmer_utils.portrait import load_models

    models = load_models(bundle)
    assert models.modalities == ["text", "audio", "video"]
    assert models.voice.kind == "classic" and models.text.emotion_model is not None


def test_load_models_without_a_path_uses_the_shipped_models(bundle, interview, monkeypatch, tmp_path):
    from mmer_utils.portrait import build_portrait, load_models

    served = _serve(bundle)
    calls = _fake_store(monkeypatch, served)
    models = load_models()
    assert calls == ["bigfive", "text_emotion", "voice_emotion", "face_emotion"]
    assert models.info["shipped"] and models.path is None
    assert models.text is served["bigfive"] and models.text_emotion is served["text_emotion"]
    assert models.voice is served["voice_emotion"] and models.face is served["face_emotion"]
    assert models.describe()["voice"] == "shipped voice_emotion; all of it"
    calls.clear()
    assert load_models(face=False).face is None and "face_emotion" not in calls
    p = build_portrait(models, text_file=interview["text"], audio=interview["audio"])
    assert p.most_visible_trait and set(p.shared.index) == {"text", "voice"}
    assert list(p.voice_timeline.columns[:len(TIMELINE_COLUMNS)]) == list(TIMELINE_COLUMNS)
    # the command line needs no --models (and no train step) when models are shipped
    assert _run(["--text", interview["text"], "--out", tmp_path / "r", "--no-compare"]) == 0
    page = (tmp_path / "r" / "report.html").read_text()
    assert "shipped bigfive" in page


def test_a_store_without_shipped_models_falls_back_to_a_trained_bundle(bundle, monkeypatch, tmp_path):
    import shutil

    from mmer_utils.portrait import ModelsNotFoundError, default_models_dir, load_models

    _fake_store(monkeypatch, {})
    monkeypatch.setenv("MMER_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(ModelsNotFoundError, match="python -m mmer_utils.portrait train"):
        load_models()
    target = default_models_dir(quick=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(bundle, target)
    models = load_models(face=False)
    assert models.path == target and models.text is not None and models.face is None


def test_the_portrait_runs_on_the_shipped_models_with_no_data_and_no_cache(interview, tmp_path):
    """A fresh clone: no data folder, an empty cache, no `train` step; the report is written."""
    import json
    import os

    empty = tmp_path / "no_data"
    empty.mkdir()
    env = {**os.environ, "MMER_DATA_DIR": str(empty), "MMER_CACHE_DIR": str(tmp_path / "cache")}
    for var in ("MMER_MODELS_DIR", "NLTK_DATA"):   # the package's import points NLTK at the data root's copy
        env.pop(var, None)
    out = subprocess.run([sys.executable, "-m", "mmer_utils.portrait", "--text", interview["text"],
                          "--audio", interview["audio"], "--video", interview["video"], "--out", tmp_path / "r"],
                         capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert "oneDNN" not in out.stderr and "cuda" not in out.stderr.lower()   # no TensorFlow start-up noise
    report = json.loads((tmp_path / "r" / "portrait.json").read_text())
    assert set(report["traits"]) == {"extraversion", "neuroticism", "agreeableness", "conscientiousness",
                                     "openness"}
    assert report["most_frequent"].keys() >= {"voice", "face"}, report["most_frequent"]
    notes = " ".join(report["notes"])
    assert "Haar cascade" in notes and "NLTK" in notes   # what changed without the data folder is said
    assert not (tmp_path / "cache" / "models" / "portrait").exists()   # nothing was trained
    assert (tmp_path / "r" / "report.html").stat().st_size > 10_000


def test_one_transaction_helper_for_the_store_and_the_app(tmp_path):
    """D1: the candidates' store and the app's database write through mmer_utils.sqlite.write_transaction;
    a writer that cannot get the lock in time gets a one-line 'busy' error and writes nothing."""
    import inspect

    from mmer_utils.app import db as app_db
    from mmer_utils.portrait import store as store_module
    from mmer_utils.sqlite import connect, write_transaction

    for module in (store_module, app_db):
        source = inspect.getsource(module)
        assert "write_transaction" in source and 'execute("BEGIN IMMEDIATE")' not in source, module.__name__
    store = CandidateStore(tmp_path / "c.sqlite", timeout=0.2)
    apps = app_db.AppDB(tmp_path / "app.sqlite", timeout=0.2)
    for path, write, error in ((store.path, lambda: store.add("x", {"trait": {"openness": 0.5}}), StoreError),
                               (apps.path, lambda: apps.create(token="t" * 20, name="x", question_id="q", question="q",
                                                              mode="text", inputs={}, keep_recordings=False,
                                                              retention_days=1), app_db.AppDBError)):
        holder = connect(path)
        with write_transaction(holder):
            with pytest.raises(error, match="is busy .*; try again"):
                write()
        holder.close()
    assert store.count() == 0 and apps.count() == 0
