"""Word2Vec on the course's corpora: determinism, meaning on a toy corpus, cache, embedding rows,
document vectors; and the exploration helpers of mmer_utils.text.viz."""

import numpy as np
import pytest

from mmer_utils.text import embeddings as emb
from mmer_utils.text import preprocess as pp
from mmer_utils.text import viz


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MMER_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "word2vec"


def toy_corpus(n=300, seed=0):
    """Two topics that never share a sentence: pets and cars."""
    rng = np.random.default_rng(seed)
    pets = ["cat", "dog", "pet", "fur", "bark", "meow", "vet", "leash"]
    cars = ["car", "road", "engine", "wheel", "drive", "fuel", "brake", "garage"]
    return [list(rng.choice(pets if i % 2 else cars, size=8)) for i in range(n)]


def cosine(kv, a, b):
    return float(kv.cosine_similarities(kv[a], kv[[b]])[0])


def test_word2vec_is_deterministic_with_one_worker_and_a_seed(cache):
    corpus = toy_corpus()
    a = emb.train_word2vec(corpus, vector_size=16, epochs=3, cache=False)
    b = emb.train_word2vec(corpus, vector_size=16, epochs=3, cache=False)
    c = emb.train_word2vec(corpus, vector_size=16, epochs=3, seed=7, cache=False)
    assert a.index_to_key == b.index_to_key
    np.testing.assert_array_equal(a.vectors, b.vectors)
    assert not np.allclose(a.vectors, c.vectors)
    assert a.vectors.dtype == np.float32 and a.vectors.shape == (16, 16)


def test_similar_words_end_up_closer_than_unrelated_ones(cache):
    kv = emb.train_word2vec(toy_corpus(600), vector_size=20, window=4, min_count=1, epochs=10, cache=False)
    for a, b, other in [("cat", "dog", "engine"), ("car", "road", "meow"), ("fuel", "brake", "fur")]:
        assert cosine(kv, a, b) > cosine(kv, a, other) + 0.2, (a, b, other)
    neighbours = [w for w, _ in kv.most_similar("cat", topn=7)]
    assert set(neighbours) <= {"dog", "pet", "fur", "bark", "meow", "vet", "leash"}
    table = emb.nearest_words(kv, ["cat", "unknownword"], topn=3)
    assert list(table.index) == ["cat"] and table.shape == (1, 3)


def test_word2vec_cache_hit_and_invalidation(cache, monkeypatch):
    corpus = toy_corpus(100)
    first = emb.train_word2vec(corpus, vector_size=8, epochs=2)
    files = list(cache.glob("*.npz"))
    assert len(files) == 1 and not list(cache.glob("*.part"))
    import gensim.models

    def boom(*args, **kwargs):
        raise AssertionError("trained again although cached")

    monkeypatch.setattr(gensim.models, "Word2Vec", boom)
    again = emb.train_word2vec(corpus, vector_size=8, epochs=2)
    assert again.index_to_key == first.index_to_key
    np.testing.assert_array_equal(again.vectors, first.vectors)
    assert again.get_vecattr("cat", "count") == first.get_vecattr("cat", "count")
    with pytest.raises(AssertionError):
        emb.train_word2vec(corpus, vector_size=8, epochs=3)  # a parameter changed
    with pytest.raises(AssertionError):
        emb.train_word2vec(corpus[:-1], vector_size=8, epochs=2)  # the corpus changed
    assert emb.word2vec_cache_path([["ab"], ["c"]]) != emb.word2vec_cache_path([["a", "b"], ["c"]])


def test_word2vec_refuses_a_corpus_without_frequent_words(cache):
    with pytest.raises(ValueError, match="no word occurs 2 times"):
        emb.train_word2vec([["a", "b"], ["c"]], cache=False)


def test_embedding_matrix_rows():
    kv = emb._keyed_vectors(["cat", "dog", "car"], np.array([[1, 0, 0], [0, 1, 0], [0, 0, 4]], dtype=np.float32))
    vocab = pp.build_vocab([["cat", "cat", "dog", "dog", "bird", "bird"]], min_count=2)
    m = emb.embedding_matrix(kv, vocab)
    assert m.shape == (len(vocab), 3) and m.dtype == np.float32
    np.testing.assert_array_equal(m[pp.PAD_INDEX], 0)
    np.testing.assert_allclose(m[pp.OOV_INDEX], kv.vectors.mean(axis=0), rtol=1e-6)
    np.testing.assert_array_equal(m[vocab["cat"]], [1, 0, 0])
    np.testing.assert_array_equal(m[vocab["dog"]], [0, 1, 0])
    bird = m[vocab["bird"]]  # in the vocabulary, no vector: small random numbers
    assert np.any(bird != 0) and np.abs(bird).max() < 1.0
    np.testing.assert_array_equal(emb.embedding_matrix(kv, vocab)[vocab["bird"]], bird)  # seeded
    rand = emb.embedding_matrix(kv, vocab, oov="random")
    assert not np.allclose(rand[pp.OOV_INDEX], m[pp.OOV_INDEX]) and np.abs(rand[pp.OOV_INDEX]).max() < 1.0
    assert emb.embedding_coverage(kv, vocab) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        emb.embedding_matrix(kv, vocab, oov="zeros")


def test_embedding_matrix_feeds_the_index_sequences():
    corpus = toy_corpus(100)
    vocab = pp.build_vocab(corpus, min_count=2)
    kv = emb.train_word2vec(corpus, vector_size=8, epochs=1, cache=False)
    m = emb.embedding_matrix(kv, vocab)
    seqs = pp.to_index_sequences(corpus[:5], vocab, 10)
    assert seqs.max() < m.shape[0]
    np.testing.assert_allclose(m[seqs[0, -1]], kv[corpus[0][-1]])


def test_document_vectors_mean_and_tfidf():
    kv = emb._keyed_vectors(["a", "b", "c"], np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    docs = [["a", "a", "b", "zzz"], ["zzz"], ["a", "c"], ["a"]]
    mean = emb.document_vectors(docs, kv)
    assert mean.shape == (4, 2) and mean.dtype == np.float32
    np.testing.assert_allclose(mean[0], [2 / 3, 1 / 3], rtol=1e-6)
    np.testing.assert_array_equal(mean[1], [0, 0])
    tfidf = emb.document_vectors(docs, kv, weighting="tfidf")
    idf = emb.fit_idf(docs)
    assert idf["b"] > idf["a"]  # "a" is in three texts, "b" in one
    w_a, w_b = idf["a"], idf["b"]
    np.testing.assert_allclose(tfidf[0], [2 * w_a / (2 * w_a + w_b), w_b / (2 * w_a + w_b)], rtol=1e-6)
    assert tfidf[0][1] > mean[0][1]  # the rare word weighs more
    # idf fitted on other (training) texts
    fixed = emb.document_vectors([["a", "b"]], kv, weighting="tfidf", idf={"a": 1.0, "b": 3.0})
    np.testing.assert_allclose(fixed[0], [0.25, 0.75])
    with pytest.raises(ValueError):
        emb.document_vectors(docs, kv, weighting="max")


# --------------------------------------------------------------------------- viz helpers


def test_most_common_and_distinctive_words():
    docs = [["a", "b", "a"], ["a", "c"], ["c"]]
    assert viz.most_common_words(docs, 2) == [("a", 3), ("c", 2)]
    assert viz.most_common_words(docs, 1, per_document=True) == [("a", 2)]
    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 100)
    docs = [["common", "word"] + (["sunny"] if v and rng.random() < 0.6 else []) + (["rain"] if not v else [])
            for v in y]
    table = viz.distinctive_words(docs, y, min_count=5)
    assert table.index[0] == "sunny" and table.index[-1] == "rain"
    assert table.loc["sunny", "z"] > 5 and abs(table.loc["common", "z"]) < 1
    with pytest.raises(ValueError):
        viz.distinctive_words(docs, y[:-1])


def test_lda_topics_finds_the_two_topics():
    docs = toy_corpus(200)
    res = viz.lda_topics(docs, 2, passes=5, no_below=2, no_above=0.9, topn=5, coherence="u_mass")
    tops = [{w for w, _ in t} for t in res.topics]
    pets = {"cat", "dog", "pet", "fur", "bark", "meow", "vet", "leash"}
    assert any(t <= pets for t in tops) and any(not (t & pets) for t in tops)
    assert res.coherence is not None and res.coherence <= 0 and len(res.topic_coherence) == 2
    assert list(res.table(3).columns) == ["coherence", "top words"]


def test_tsne_and_neighbour_agreement():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (30, 5)) + 8, rng.normal(0, 1, (30, 5)) - 8])
    y = np.r_[np.zeros(30), np.ones(30)]
    xy = viz.tsne_points(X, seed=0, normalize=False, max_iter=250)
    assert xy.shape == (60, 2)
    assert viz.neighbour_agreement(xy, y, k=5)["agreement"] > 0.95
    shuffled = viz.neighbour_agreement(X, rng.permutation(y), k=5)
    assert abs(shuffled["agreement"] - shuffled["chance"]) < 0.15


def test_course_texts_uses_only_the_training_splits_of_the_emotion_corpora():
    from conftest import real_dataset
    from mmer_utils import datasets

    real_dataset("meld")
    texts = emb.course_texts(("meld",))
    train = datasets.load_meld(splits=("train",))
    assert 0 < len(texts) <= len(train) and len(texts) < len(datasets.load_meld())
    assert set(texts) <= set(train.text.astype(str))
    with pytest.raises(ValueError, match="unknown corpus"):
        emb.course_texts(("wikipedia",))


def test_word_clouds_per_group_and_a_clear_error_without_the_package(monkeypatch):
    import sys

    import matplotlib

    matplotlib.use("Agg")
    pytest.importorskip("wordcloud")
    y = np.array([0, 1] * 30)
    docs = [["common", "word"] + (["sunny", "beach"] if v else ["rain", "cloud"]) for v in y]
    for method in ("distinctive", "frequency"):
        axes = viz.plot_trait_clouds(docs, y, trait="mood", method=method, n=10, min_count=2)
        assert len(axes) == 2 and all(len(ax.images) == 1 for ax in axes)
        assert axes[0].get_title().startswith("mood: high (30")
    cloud = viz.word_cloud({"sunny": 3.0, "rain": 1.0, "never": 0.0})
    assert set(cloud.words_) == {"sunny", "rain"}
    with pytest.raises(ValueError):
        viz.word_cloud({"x": 0.0})
    monkeypatch.setitem(sys.modules, "wordcloud", None)  # as if it were not installed
    with pytest.raises(viz.MissingPackageError, match="pip install wordcloud"):
        viz.word_cloud({"sunny": 1.0})
