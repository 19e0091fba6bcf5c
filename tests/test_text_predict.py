"""The text chapter's inference API (candidate view): synthetic corpora for the logic, real data once."""

import re

import numpy as np
import pandas as pd
import pytest

from conftest import real_dataset
from mmer_utils.errors import DataNotFoundError
from mmer_utils.labels import MELD
from mmer_utils.text import predict
from mmer_utils.text.predict import TRAIT_NAMES, TextAnswerModel
from mmer_utils.text.preprocess import EmptyTextError

CODES = list(TRAIT_NAMES)


def _corpus(n=120, seed=0):
    """Essays whose extraversion label is written in the words (party vs library), other traits random."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        ext = i % 2
        words = (["party", "friends", "talk", "dance"] if ext else ["library", "alone", "quiet", "read"]) * 5
        filler = rng.choice(["today", "class", "weather", "dinner", "music", "walk"], size=30).tolist()
        row = {"author_id": f"A{i}", "text": " ".join(rng.permutation(words + filler))}
        row.update({c: int(rng.integers(0, 2)) for c in CODES})
        row["EXT"] = ext
        rows.append(row)
    return pd.DataFrame(rows)


def _meld():
    happy = ["this is great fun", "i love it so much", "wonderful news today"]
    sad = ["this is terrible", "i miss her so much", "awful news today"]
    texts = (happy + sad) * 10
    return pd.DataFrame({"split": "train", "text": texts, "emotion": (["joy"] * 3 + ["sadness"] * 3) * 10})


@pytest.fixture(scope="module")
def model():
    return TextAnswerModel.train(_corpus(), _meld(), cv=3)


def test_traits_follow_the_words_and_percentiles_place_the_answer(model):
    outgoing = model.analyse(" ".join(["party friends talk dance"] * 15))
    shy = model.analyse(" ".join(["library alone quiet read"] * 15))
    assert outgoing.traits["EXT"] > 0.5 > shy.traits["EXT"]
    assert outgoing.percentiles["EXT"] > 50 > shy.percentiles["EXT"]
    assert outgoing.most_visible_trait == "EXT"
    assert outgoing.words[0][0] in {"party", "friend", "talk", "dance"} and outgoing.words[0][1] == 15
    assert set(outgoing.emotions.index) == {"joy", "sadness"}
    assert not outgoing.low_confidence


def test_population_is_out_of_fold(model):
    # in-sample probabilities of a separable corpus would be near 0/1; out-of-fold ones are honest but still spread
    assert model.population.shape == (120, 5)
    assert list(model.population.columns) == CODES
    ext = model.population["EXT"].to_numpy()
    assert 0.0 < ext.min() and ext.max() < 1.0


def test_percentiles_on_known_population():
    # a population of 4 writers, kept as 101 quantiles (Hazen): values between writers are exact,
    # below the lowest / above the highest are 0 / 100; a writer's own value is within a point or so
    # of percentileofscore(kind="mean") (the 101-point grid smooths the steps of a 4-point population)
    pop = pd.DataFrame({c: [0.1, 0.2, 0.3, 0.4] for c in CODES})
    m = TextAnswerModel(None, pop)
    assert m.quantiles.shape == (101, 5) and m.n_population == 4
    pct = m.percentiles(pd.Series({c: v for c, v in zip(CODES, [0.05, 0.2, 0.35, 0.5, 0.25])})).iloc[0]
    assert pct.tolist() == pytest.approx([0.0, 37.5, 75.0, 100.0, 50.0])


def test_percentiles_from_quantiles_match_the_full_population():
    from scipy.stats import percentileofscore

    rng = np.random.default_rng(0)
    pop = pd.DataFrame({c: rng.beta(2 + k, 3, size=2000) for k, c in enumerate(CODES)})
    m = TextAnswerModel(None, pop)
    probe = pd.DataFrame({c: np.r_[np.linspace(0.0, 1.0, 41), pop[c].to_numpy()[:20]] for c in CODES})
    got = m.percentiles(probe)
    for c in CODES:
        exact = [percentileofscore(pop[c], x, kind="mean") for x in probe[c]]
        np.testing.assert_allclose(got[c].to_numpy(), exact, atol=1.0)
    # ties count half: a population where 40 % of the writers share one value
    tied = TextAnswerModel(None, pd.DataFrame({c: np.r_[np.full(400, 0.5), np.linspace(0.6, 0.9, 600)]
                                               for c in CODES}))
    assert tied.percentiles(pd.Series({c: 0.5 for c in CODES})).iloc[0].tolist() == pytest.approx([20.0] * 5, abs=0.6)
    with pytest.raises(ValueError, match="population"):
        TextAnswerModel(None)


def test_empty_short_and_symbol_answers(model):
    for bad in ["", "   \n", None, 42]:
        with pytest.raises(EmptyTextError):
            model.analyse(bad)
    with pytest.raises(EmptyTextError, match="no words"):
        model.analyse("?!... ---")
    short = model.analyse("party friends")
    assert short.low_confidence and "only 2 words" in short.notes[0]
    stop_only = model.analyse("the and of to it was")
    assert stop_only.low_confidence and stop_only.words == []


def test_predict_proba_and_the_emotion_columns_follow_the_labels(model):
    party, library = " ".join(["party friends talk dance"] * 15), " ".join(["library alone quiet read"] * 15)
    P = model.predict_proba([party, library])
    assert P.shape == (2, 5) and model.labels == CODES
    assert P[0, CODES.index("EXT")] > 0.5 > P[1, CODES.index("EXT")]
    emotion = model.emotion_model
    assert emotion.labels == ["joy", "sadness"] and list(emotion.classes_) == ["joy", "sadness"]
    E = emotion.predict_proba(["wonderful news today, i love it", "awful news, i miss her"])
    assert E.shape == (2, 2) and np.allclose(E.sum(axis=1), 1)
    # each column is its label: the happy text's largest probability is in the "joy" column
    assert emotion.labels[E[0].argmax()] == "joy" and emotion.labels[E[1].argmax()] == "sadness"
    table = emotion.sentences("This is great fun. This is terrible!")
    assert table["sentence"].tolist() == ["This is great fun.", "This is terrible!"]
    assert table["emotion"].tolist() == ["joy", "sadness"]


def test_save_load_round_trip_and_cli(model, tmp_path, monkeypatch, capsys):
    import zipfile

    monkeypatch.setenv("MMER_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(DataNotFoundError, match="mmer_utils.text.predict train"):
        TextAnswerModel.load_default()
    path = model.save(tmp_path / "m.skops", emotion_path=tmp_path / "emotion.skops")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert "schema.json" in zipfile.ZipFile(path).namelist()   # a skops archive, not a pickle
    again = TextAnswerModel.load(path)
    assert again.population is None and again.emotion_model is None and again.n_population == 120
    pd.testing.assert_frame_equal(again.quantiles, model.quantiles)
    text = "party friends talk " * 20
    pd.testing.assert_series_equal(again.analyse(text).traits, model.analyse(text).traits)
    pd.testing.assert_series_equal(again.analyse(text).percentiles, model.analyse(text).percentiles)
    both = TextAnswerModel.load(path, emotion_path=tmp_path / "emotion.skops")
    pd.testing.assert_series_equal(both.analyse(text).emotions, model.analyse(text).emotions)
    from mmer_utils.persist import ModelFileError
    from mmer_utils.text.predict import TextEmotionModel

    emotion = TextEmotionModel.load(tmp_path / "emotion.skops")
    np.testing.assert_allclose(emotion.predict_proba([text]), model.emotion_model.predict_proba([text]))
    with pytest.raises(ModelFileError, match="holds a TextEmotionModel, not a TextAnswerModel"):
        TextAnswerModel.load(tmp_path / "emotion.skops")
    old = tmp_path / "old.joblib"
    old.write_bytes(b"pickled")
    with pytest.raises(ModelFileError, match="no longer read"):
        TextAnswerModel.load(old)
    # the default bundle: both files, found by load_default
    default = model.save()
    assert default.name == "text_answer.skops" and predict.emotion_sibling(default).is_file()
    assert TextAnswerModel.load_default().emotion_model is not None
    answer = tmp_path / "answer.txt"
    answer.write_text(text, encoding="utf-8")
    assert predict.main(["analyse", "--file", str(answer), "--model", str(path)]) == 0
    out = capsys.readouterr().out
    assert "most visible trait: extraversion" in out and "percentile" in out
    empty = tmp_path / "empty.txt"
    empty.write_text("  ", encoding="utf-8")
    assert predict.main(["analyse", "--file", str(empty), "--model", str(path)]) == 2
    assert "empty" in capsys.readouterr().err


def test_quick_bundle_on_the_real_essays_and_meld(tmp_path):
    real_dataset("essays")
    real_dataset("meld")
    m = TextAnswerModel.train(quick=True)
    assert m.population.shape == (600, 5)
    essay = predict.check_text("I love meeting new people and I organise parties for my friends every week. " * 8)
    view = m.analyse(essay)
    assert ((view.percentiles >= 0) & (view.percentiles <= 100)).all()
    assert set(view.emotions.index) == {"anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"}
    assert abs(view.emotions.sum() - 1) < 1e-6
    assert m.emotion_model.labels == list(MELD)   # MELD's order, whatever the classifier's classes_ order
    path = m.save(tmp_path / "quick.skops", emotion_path=tmp_path / "quick_emotion.skops")
    back = TextAnswerModel.load(path, emotion_path=tmp_path / "quick_emotion.skops")
    pd.testing.assert_series_equal(back.analyse(essay).percentiles, view.percentiles)
    pd.testing.assert_series_equal(back.analyse(essay).emotions, view.emotions)


def test_a_binary_or_foreign_answer_file_is_said_in_one_line(model, tmp_path, capsys):
    """Tried as a new user would: a video, a PDF and a missing file given to ``analyse --file``."""
    path = model.save(tmp_path / "m.skops")
    cases = {"video.mp4": b"\x00\x00\x00\x18ftypmp42" + bytes(300), "letter.pdf": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj",
             "noise.txt": bytes(range(1, 32)) * 40}
    expected = {"video.mp4": "not a text file (it holds binary data)", "letter.pdf": "it is a PDF",
                "noise.txt": "not a text file"}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        assert predict.main(["analyse", "--file", str(tmp_path / name), "--model", str(path)]) == 2
        captured = capsys.readouterr()
        assert captured.err.startswith("error: ") and captured.err.count("\n") == 1, captured.err
        assert expected[name] in captured.err and "Traceback" not in captured.err and not captured.out
    assert predict.main(["analyse", "--file", str(tmp_path / "none.txt"), "--model", str(path)]) == 2
    assert "none.txt not found" in capsys.readouterr().err
    # Windows-1252 with a BOM-less curly apostrophe still reads
    (tmp_path / "cp1252.txt").write_bytes(("party friends talk " * 20 + "don\x92t").encode("latin-1"))
    assert predict.read_text_file(tmp_path / "cp1252.txt").endswith("don’t")


def test_a_text_not_in_english_gets_a_note_with_the_share_recognised(model, tmp_path, capsys):
    german = ("Ich habe im letzten Jahr ein Team geleitet. Die Arbeit war schwer, aber wir haben das Projekt "
              "pünktlich abgeschlossen, und ich habe viel gelernt.")
    view = model.analyse(german)
    assert view.low_confidence
    note = next(n for n in view.notes if "read English" in n)
    known, total = predict.known_words(german, model.vocabulary)
    assert total == 24 and known < 0.6 * total
    assert f"they recognise {known} of the {total} words" in note
    english = "party friends talk dance " * 15
    assert predict.language_note(english, model.vocabulary) is None
    assert not any("read English" in n for n in model.analyse(english).notes)
    assert predict.known_words("去年我带领一个团队。") == (0, 1)
    # English stop words count as read (a TF-IDF vectorizer drops them): a plain English answer is not flagged
    plain = "I think that a team is at its best when we listen to each other"
    assert predict.known_words(plain, {"think", "team", "best", "listen"}) == (15, 15)
    # the command line: the note, whole-number percentiles and no empty header row
    path = model.save(tmp_path / "m.skops")
    (tmp_path / "de.txt").write_text(german, encoding="utf-8")
    assert predict.main(["analyse", "--file", str(tmp_path / "de.txt"), "--model", str(path)]) == 0
    out = capsys.readouterr().out
    assert "note: the models read English" in out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if "P(high)" in line)
    assert lines[header + 1].split()[0] == "extraversion"           # no "trait" row between
    assert re.fullmatch(r"extraversion\s+0\.\d{3}\s+\d{1,3}", lines[header + 1].strip())


def test_analyse_without_model_uses_the_shipped_one_else_the_trained_one(model, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MMER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(TextAnswerModel, "load_pretrained", classmethod(lambda cls, **kw: model))
    assert predict.main(["analyse", "party friends talk dance " * 15]) == 0
    assert "most visible trait: extraversion" in capsys.readouterr().out

    def no_store(cls, **kw):
        raise DataNotFoundError("the model store is missing (test)")

    monkeypatch.setattr(TextAnswerModel, "load_pretrained", classmethod(no_store))
    assert predict.main(["analyse", "party friends talk dance " * 15]) == 2
    assert "python -m mmer_utils.text.predict train" in capsys.readouterr().err
    model.save()                                          # the trained default, in the cache
    assert predict.main(["analyse", "party friends talk dance " * 15]) == 0
