"""The text chapter's inference API (candidate view): synthetic corpora for the logic, real data once."""

import numpy as np
import pandas as pd
import pytest

from conftest import real_dataset
from mmer_utils.errors import DataNotFoundError
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
    pop = pd.DataFrame({c: [0.1, 0.2, 0.3, 0.4] for c in CODES})
    m = TextAnswerModel(None, pop)
    pct = m.percentiles(pd.Series({c: v for c, v in zip(CODES, [0.05, 0.2, 0.35, 0.5, 0.4])}))
    assert pct.iloc[0].tolist() == [0.0, 37.5, 75.0, 100.0, 87.5]


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


def test_save_load_round_trip_and_cli(model, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MMER_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(DataNotFoundError, match="mmer_utils.text.predict train"):
        TextAnswerModel.load_default()
    path = model.save(tmp_path / "m.joblib")
    assert not list(tmp_path.glob("*.part"))
    again = TextAnswerModel.load(path)
    text = "party friends talk " * 20
    pd.testing.assert_series_equal(again.analyse(text).traits, model.analyse(text).traits)
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
