"""Text emotion models: dialogue context without leaks, context that matters, and the protocol."""

import numpy as np
import pandas as pd
import pytest
from conftest import real_dataset

from mmer_utils.text import emotion as E


def _dialogues():
    rows = []
    for d in range(2):
        for u in range(4):
            rows.append({"split": "train", "dialogue_id": d, "utterance_id": u, "speaker": f"S{u % 2}",
                         "text": f"d{d}u{u}"})
    return pd.DataFrame(rows).sample(frac=1, random_state=0)  # order must not matter


def test_dialogue_context_uses_only_earlier_turns_of_the_same_dialogue():
    df = _dialogues()
    ctx = E.dialogue_context(df, n_previous=2)
    by = dict(zip(df.text, ctx))
    assert by["d0u0"] == "" and by["d1u0"] == ""
    assert by["d0u3"] == "S1: d0u1 | S0: d0u2"
    assert "d0" not in by["d1u2"]  # no turn from another dialogue
    assert all("u3" not in by[f"d{d}u{u}"] for d in range(2) for u in range(3))  # never a later turn


def test_context_model_reads_what_the_utterance_cannot_tell():
    rng = np.random.default_rng(0)
    trigger = rng.integers(0, 2, 400)
    df = pd.DataFrame({"text": ["oh really"] * 400,
                       "context": np.where(trigger == 1, "I broke your television", "I am getting married")})
    y = np.where(trigger == 1, "anger", "surprise")
    alone = E.tfidf_classifier(min_df=1).fit(df.text, y)
    assert (alone.predict(df.text) == y).mean() < 0.6
    ctx = E.ContextClassifier(min_df=1, context_weight=1.0).fit(df[:300], y[:300])
    assert (ctx.predict(df[300:]) == y[300:]).mean() > 0.95
    assert ctx.predict_proba(df[:3]).shape == (3, 2)


def test_select_on_validation_returns_the_fitted_winner():
    texts = ["good day", "bad day", "good food", "bad food"] * 10
    y = ["joy", "sadness"] * 20
    best, table, model = E.select_on_validation(lambda C: E.tfidf_classifier(C=C, min_df=1, max_char_features=None),
                                                {"C": [0.001, 10.0]}, texts, y, ["good meal", "bad meal"],
                                                ["joy", "sadness"], metric="accuracy")
    assert len(table) == 2 and best["C"] in (0.001, 10.0)
    assert list(model.predict(["good meal", "bad meal"])) == ["joy", "sadness"]


def test_neural_text_classifier_learns_and_round_trips(tmp_path):
    rng = np.random.default_rng(1)
    words = {"joy": ["great", "love", "wonderful"], "anger": ["hate", "furious", "awful"]}
    texts, y = [], []
    for _ in range(256):
        label = ["joy", "anger"][rng.integers(0, 2)]
        texts.append(" ".join(rng.choice(words[label], 3)) + " today i feel")
        y.append(label)
    clf = E.NeuralTextClassifier(epochs=6, batch_size=32, embed_dim=16, units=8, seed=0)
    clf.fit(texts[:200], y[:200], validation_data=(texts[200:], y[200:]))
    assert (clf.predict(texts[200:]) == np.array(y[200:])).mean() > 0.9
    path = clf.save(tmp_path / "text.keras")
    loaded = E.NeuralTextClassifier.load(path)
    np.testing.assert_allclose(loaded.predict_proba(texts[:5]), clf.predict_proba(texts[:5]), atol=1e-5)
    assert E.tokenize_simple("I'm SO happy!!") == ["i'm", "so", "happy", "!", "!"]


def test_text_emotion_benchmark_quick_dair_rows(monkeypatch):

    real_dataset("emotion")
    from mmer_utils.bench import text_emotion

    monkeypatch.setenv(text_emotion.DATASETS_ENV, "dair")
    records = text_emotion.run(full=False)
    models = {r.model for r in records}
    assert models == {"TF-IDF words+chars + LR", "BiGRU (word ids, from scratch)", "BiGRU, average of 2 random starts"}
    assert all(r.protocol.startswith("dair-ai") and 0 <= r.value <= 1 for r in records)
    monkeypatch.setenv(text_emotion.DATASETS_ENV, "dair,imdb")
    with pytest.raises(ValueError, match="dair and/or meld"):
        text_emotion.run(full=False)
