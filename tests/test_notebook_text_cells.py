"""The text chapter's key code on the page: the LSTM and CNN-LSTM of 01_text/03 written in visible cells build the
same networks as the package's builders; and the cleaning pipeline degrades to plain stand-ins, with one line that
says so, when NLTK's data is missing (and changes nothing when it is there)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, real_dataset

keras = pytest.importorskip("keras")

from test_notebook_architectures import assert_same_architecture, describe, notebook_namespace  # noqa: E402

BIG_FIVE = "01_text/03_big_five_models.ipynb"
LSTM = "mmer_utils.text.models.build_lstm"
CNN_LSTM = "mmer_utils.text.models.build_cnn_lstm"


@pytest.fixture(scope="module")
def cells():
    return notebook_namespace(BIG_FIVE, LSTM, CNN_LSTM)


@pytest.mark.parametrize("shape, kwargs", [
    ((300,), {"vocab_size": 2_000}),
    ((64,), {"vocab_size": 500, "embedding_dim": 16, "lstm_units": 8, "trainable": False, "dropout": 0.5}),
], ids=["source", "quick"])
def test_text_lstm_matches_the_package(cells, shape, kwargs):
    from mmer_utils.text import models

    assert_same_architecture(cells["lstm_model"](shape, 5, **kwargs), models.build_lstm(shape, 5, **kwargs))


@pytest.mark.parametrize("shape, kwargs", [
    ((300,), {"vocab_size": 2_000}),
    ((64,), {"vocab_size": 500, "embedding_dim": 16, "filters": (8, 16, 32), "lstm_units": (8,), "dense_units": 8}),
    ((40,), {"vocab_size": 100, "embedding_dim": 8, "filters": (4, 8), "kernel_size": 3, "pool_size": 3,
             "lstm_units": (6, 4), "spatial_dropout": 0.1}),
], ids=["source", "quick", "other"])
def test_text_cnn_lstm_matches_the_package(cells, shape, kwargs):
    from mmer_utils.text import models

    assert_same_architecture(cells["cnn_lstm_model"](shape, 5, **kwargs), models.build_cnn_lstm(shape, 5, **kwargs))


def test_word2vec_weights_start_the_embedding_in_both(cells):
    from mmer_utils.text import models

    matrix = np.random.default_rng(0).normal(size=(50, 12)).astype(np.float32)
    for mine, theirs in [(cells["lstm_model"], models.build_lstm), (cells["cnn_lstm_model"], models.build_cnn_lstm)]:
        kw = {"vocab_size": 50, "embedding_matrix": matrix, "trainable": False}
        a, b = mine((16,), 5, **kw), theirs((16,), 5, **kw)
        assert [r[:4] for r in describe(a)] == [r[:4] for r in describe(b)]
        for m in (a, b):
            emb = m.get_layer("embedding")
            assert not emb.trainable and emb.output_dim == 12
            np.testing.assert_array_equal(emb.get_weights()[0], matrix)


def test_the_notebook_compiles_and_fits_the_lstm_on_complete_batches():
    """The visible training cell: Adam, binary cross-entropy, binary accuracy, the two named callbacks on the
    validation loss, and a tf.data pipeline with drop_remainder=True."""
    nb = json.loads((REPO / "notebooks" / BIG_FIVE).read_text(encoding="utf-8"))
    fit = [s for s in ("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code") if "lstm.fit(" in s]
    assert len(fit) == 1
    cell = fit[0]
    for needed in ("lstm_model(", "keras.optimizers.Adam(", 'loss="binary_crossentropy"', "BinaryAccuracy(",
                   "keras.callbacks.EarlyStopping(", "keras.callbacks.ReduceLROnPlateau(", "drop_remainder=True",
                   "restore_best_weights=True", "tf.data.Dataset"):
        assert needed in cell, f"the training cell lacks {needed}"


# --------------------------------------------------------------------------- without NLTK's data


@pytest.fixture
def restore_fallback():
    from mmer_utils.text import preprocess as pp

    yield pp
    pp.fallback_without_nltk_data(False)


SCRIPT = r"""
import json, os, sys
import nltk
nltk.data.path[:] = [os.environ["NLTK_DATA"]]  # only the empty folder: no user or system nltk_data
from mmer_utils.errors import DataNotFoundError
from mmer_utils.text import preprocess as pp
out = {"missing": pp.missing_nltk_data()}
try:
    pp.clean_tokens("The dogs were running.")
    out["strict"] = "no error"
except DataNotFoundError as exc:
    out["strict"] = str(exc)
out["note"] = pp.fallback_without_nltk_data()
out["tokens"] = pp.clean_tokens("The dogs were running faster than I'd thought! Jibber-jabber at 5 o'clock.")
out["tokenize"] = pp.tokenize("Hello, world. It's 5 o'clock!")
out["n_stop"] = len(pp.english_stopwords())
out["tags"] = pp.pos_tag(["dogs", "run"])
out["corpus"] = pp.clean_corpus(["Dogs were barking.", "I can't sleep"], progress=False)
out["corpus_parallel"] = pp.clean_corpus(["Dogs were barking.", "I can't sleep"] * 30, progress=False, n_jobs=2,
                                         cache=False)[:2]
out["cached"] = sorted(p.name for p in (pp.config.cache_dir("text_tokens")).iterdir())
out["path"] = nltk.data.path
print(json.dumps(out))
"""


def test_without_nltk_data_the_pipeline_uses_plain_stand_ins_and_says_so(tmp_path, monkeypatch):
    """In a fresh process whose NLTK data path is one empty folder (nothing leaks into this session's NLTK)."""
    import nltk

    path_before, env_before = list(nltk.data.path), os.environ.get("NLTK_DATA")
    empty = tmp_path / "nltk_data_empty"
    empty.mkdir()
    (tmp_path / "data").mkdir()
    env = {**os.environ, "NLTK_DATA": str(empty), "MMER_DATA_DIR": str(tmp_path / "data"),
           "MMER_CACHE_DIR": str(tmp_path / "cache")}
    run = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, cwd=REPO,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["path"] == [str(empty)]
    assert out["missing"] == ["punkt_tab", "stopwords", "averaged_perceptron_tagger_eng", "wordnet"]
    # by default still the one-line error with the fix
    assert "fetch nltk_data" in out["strict"] and "\n" not in out["strict"]
    # after the opt-in: one line that says what stands in for what, and how to get the data
    note = out["note"]
    assert "\n" not in note and "python -m mmer_utils.datasets fetch nltk_data" in note
    assert "regex" in note and "scikit-learn" in note and "no lemmas" in note
    assert out["tokens"] == ["dogs", "running", "faster", "thought", "jibber-jabber", "5", "o'clock"]
    assert out["tokenize"] == ["Hello", ",", "world", ".", "It's", "5", "o'clock", "!"]
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    assert out["n_stop"] == len(ENGLISH_STOP_WORDS)
    assert out["tags"] == [["dogs", "?"], ["run", "?"]]
    assert out["corpus"] == [["dogs", "barking"], ["sleep"]] == out["corpus_parallel"]
    assert len(out["cached"]) == 1
    # this session's NLTK is untouched
    assert nltk.data.path == path_before and os.environ.get("NLTK_DATA") == env_before


def test_with_nltk_data_the_fallback_changes_nothing(restore_fallback, tmp_path, monkeypatch):
    pp = restore_fallback
    real_dataset("nltk_data")
    monkeypatch.setenv("MMER_CACHE_DIR", str(tmp_path / "cache"))
    texts = ["The dogs were running faster than I'd thought!", "I can't believe they've gone; better geese."]
    strict = [pp.clean_tokens(t) for t in texts]
    assert pp.missing_nltk_data() == []
    assert pp.fallback_without_nltk_data() is None  # nothing to say
    assert [pp.clean_tokens(t) for t in texts] == strict
    assert pp.clean_corpus(texts, progress=False) == strict
    assert strict[0] == ["dog", "run", "faster", "would", "think"]  # NLTK's lemmas, not the stand-ins
    # the same cache entry as without the opt-in: the key only changes when a stand-in is used
    pp.fallback_without_nltk_data(False)
    assert pp.clean_corpus(texts, progress=False) == strict
    assert len(list((tmp_path / "cache" / "text_tokens").iterdir())) == 1
