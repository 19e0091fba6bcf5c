import numpy as np
import pytest

from mmer_utils import labels


def test_every_source_label_maps_into_the_shared_set():
    for source in ["fer2013", "ravdess", "meld", "emotion"]:
        mapped = labels.to_shared(labels.vocabulary(source), source)
        assert set(mapped) <= set(labels.SHARED)


def test_documented_merges():
    assert labels.to_shared(["calm", "neutral", "fearful", "surprised"], "ravdess") == ["neutral", "neutral", "fear", "surprise"]
    assert labels.to_shared(["joy", "anger", "sadness"], "meld") == ["happy", "angry", "sad"]
    assert labels.to_shared(["love", "joy"], "dair-ai") == ["happy", "happy"]


def test_probabilities_are_summed_and_rows_still_sum_to_one():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(8), size=5)
    shared = labels.to_shared_proba(p, "ravdess")
    assert shared.shape == (5, 7)
    np.testing.assert_allclose(shared.sum(axis=1), 1.0)
    neutral = labels.SHARED.index("neutral")
    np.testing.assert_allclose(shared[:, neutral], p[:, 0] + p[:, 1])


def test_coverage_says_what_a_source_cannot_express():
    cov = dict(zip(labels.SHARED, labels.coverage("emotion")))
    assert not cov["neutral"] and not cov["disgust"] and cov["happy"]
    assert labels.coverage("fer2013").all()


def test_bad_labels_and_sources_are_clear_errors():
    with pytest.raises(ValueError, match="not a ravdess label"):
        labels.to_shared(["bored"], "ravdess")
    with pytest.raises(ValueError, match="unknown label source"):
        labels.vocabulary("iemocap")
    with pytest.raises(ValueError, match="expected 8"):
        labels.to_shared_proba(np.ones((1, 7)) / 7, "ravdess")
    assert labels.encode(["sad", "angry"], "fer2013").tolist() == [4, 0]
