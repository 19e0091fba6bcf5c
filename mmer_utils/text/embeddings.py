"""Word2Vec trained on the course's own corpora, and what the models read from it.

The source feeds its LSTMs a 300-dimensional Word2Vec embedding. Nothing is
downloaded here: :func:`train_word2vec` trains gensim's skip-gram on the clean
tokens of the essays (optionally with the training texts of MELD and dair-ai,
:func:`course_texts`), and caches the vectors on disk. Then:

* :func:`embedding_matrix` turns them into the weights of a Keras ``Embedding``
  layer for a vocabulary of :func:`mmer_utils.text.preprocess.build_vocab`
  (row 0 padding = zeros, row 1 out-of-vocabulary = the mean vector);
* :func:`document_vectors` averages them over a text (plain or TF-IDF weighted
  mean), a fixed-size input for a linear model or a t-SNE map;
* :func:`nearest_words` lists a word's neighbours, the usual sanity check.

>>> corpus = [["cat", "dog", "pet"], ["dog", "cat", "pet"]] * 50
>>> kv = train_word2vec(corpus, vector_size=10, epochs=2, cache=False)
>>> kv.vector_size, sorted(kv.index_to_key)
(10, ['cat', 'dog', 'pet'])
>>> embedding_matrix(kv, {"<pad>": 0, "<oov>": 1, "cat": 2}).shape
(3, 10)
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from .. import config
from ..cache import load_or_compute
from . import preprocess

#: Bumped when the training or the cache format changes.
CACHE_VERSION = 1


def _corpus_hash(token_lists: Sequence[Sequence[str]], params: Mapping) -> str:
    import gensim

    h = hashlib.sha256()
    h.update(json.dumps({"v": CACHE_VERSION, "gensim": gensim.__version__, **params}, sort_keys=True).encode())
    for tokens in token_lists:
        # "\x1f" separates words and "\x1e" texts: no clean token contains either.
        h.update("\x1f".join(tokens).encode("utf-8", "surrogatepass"))
        h.update(b"\x1e")
    return h.hexdigest()


def _keyed_vectors(keys: Sequence[str], vectors: np.ndarray, counts: np.ndarray | None = None):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vectors.shape[1])
    kv.add_vectors(list(keys), np.asarray(vectors, dtype=np.float32))
    if counts is not None:
        kv.allocate_vecattrs(["count"], [np.int64])
        kv.expandos["count"][:] = np.asarray(counts, dtype=np.int64)
    return kv


def word2vec_cache_path(token_lists: Sequence[Sequence[str]], **params) -> Path:
    """Where :func:`train_word2vec` keeps the vectors of this corpus and these parameters."""
    return config.cache_dir("word2vec") / f"{_corpus_hash(token_lists, params)[:32]}.npz"


def train_word2vec(token_lists: Iterable[Sequence[str]], *, vector_size: int = 300, window: int = 5,
                   min_count: int = 2, sg: int = 1, epochs: int = 10, seed: int = config.DEFAULT_SEED,
                   workers: int = 1, negative: int = 5, sample: float = 1e-3, cache: bool = True):
    """Train Word2Vec on token lists; return its :class:`gensim.models.KeyedVectors`.

    Parameters
    ----------
    token_lists : clean token lists (:func:`mmer_utils.text.preprocess.clean_corpus`).
    vector_size : dimension of the vectors (the source uses 300).
    window : context words on each side.
    min_count : words seen fewer times get no vector.
    sg : 1 skip-gram (better for rare words and small corpora, like the 2,465 essays), 0 CBOW.
    epochs : passes over the corpus.
    seed : seed of the initial vectors and of the sampling.
    workers : training threads. Keep 1 for reproducible vectors (see below).
    negative, sample : negative samples per word and down-sampling threshold of frequent words.
    cache : keep the vectors under ``config.cache_dir("word2vec")``, keyed by a hash of the
        corpus and of every parameter (:func:`word2vec_cache_path`), and read them back
        next time instead of training again.

    Notes
    -----
    **Reproducibility.** With ``workers=1`` and a fixed ``seed`` the vectors are
    identical run to run: gensim (>= 4) draws the initial vectors from a NumPy
    generator seeded with ``seed`` (not from Python's salted ``hash``), the
    negative sampling and frequent-word down-sampling from a generator seeded
    with it too, and a single thread reads the sentences in order. With several
    workers the threads update the shared weights without locks, in an order
    the scheduler decides, so the vectors change slightly every run: faster,
    but not reproducible.

    Word vectors learn from the words alone, never from the labels; still, the
    Big Five cross-validation trains them on the training folds only
    (:class:`mmer_utils.text.bigfive.Word2VecDocFeatures`).
    """
    token_lists = [list(t) for t in token_lists]
    params = dict(vector_size=int(vector_size), window=int(window), min_count=int(min_count), sg=int(sg),
                  epochs=int(epochs), seed=int(seed), workers=int(workers), negative=int(negative),
                  sample=float(sample))
    path = word2vec_cache_path(token_lists, **params) if cache else None
    data = load_or_compute(path, lambda: _train(token_lists, params))
    return _keyed_vectors(data["keys"].tolist(), data["vectors"], data["counts"])


def _train(token_lists: list, params: dict) -> dict:
    """Word2Vec on the token lists: its words, vectors and counts (what :func:`train_word2vec` caches)."""
    from gensim.models import Word2Vec

    min_count = params["min_count"]
    counts = Counter(w for tokens in token_lists for w in tokens)
    if not any(c >= min_count for c in counts.values()):
        raise ValueError(f"no word occurs {min_count} times or more: nothing to train Word2Vec on "
                         f"({len(token_lists)} texts, {sum(counts.values())} tokens)")
    texts = [t for t in token_lists if t]
    model = Word2Vec(vector_size=params["vector_size"], window=params["window"], min_count=params["min_count"],
                     sg=params["sg"], seed=params["seed"], workers=params["workers"], negative=params["negative"],
                     sample=params["sample"])
    model.build_vocab(texts)
    model.train(texts, total_examples=len(texts), epochs=params["epochs"])
    kv = model.wv
    return {"keys": np.array(kv.index_to_key, dtype=str), "vectors": kv.vectors.astype(np.float32),
            "counts": np.array([kv.get_vecattr(w, "count") for w in kv.index_to_key], dtype=np.int64)}


def embedding_matrix(keyed_vectors, vocab: Mapping[str, int], *, oov: str = "mean",
                     seed: int = config.DEFAULT_SEED) -> np.ndarray:
    """Weights of a Keras ``Embedding`` for ``vocab``: row ``vocab[w]`` is the vector of ``w``.

    Rows: :data:`~mmer_utils.text.preprocess.PAD_INDEX` (0) all zeros, so padding adds
    nothing; :data:`~mmer_utils.text.preprocess.OOV_INDEX` (1) the mean of all vectors
    (``oov="mean"``, an "average word") or small random numbers (``oov="random"``);
    a vocabulary word without a vector (rarer than Word2Vec's ``min_count``) small
    random numbers, drawn with ``seed``, at the scale of the trained vectors.

    Returns a float32 array of shape ``(max(vocab.values()) + 1, vector_size)``, i.e.
    ``(len(vocab), vector_size)`` for a vocabulary of :func:`~mmer_utils.text.preprocess.build_vocab`.
    """
    if oov not in ("mean", "random"):
        raise ValueError(f"oov must be 'mean' or 'random', got {oov!r}")
    if not vocab:
        raise ValueError("empty vocabulary")
    vectors = np.asarray(keyed_vectors.vectors, dtype=np.float32)
    dim = vectors.shape[1]
    rng = np.random.default_rng(seed)
    scale = float(vectors.std()) if vectors.size else 0.1
    n_rows = max(vocab.values()) + 1
    matrix = rng.normal(0.0, 0.1 * scale, size=(n_rows, dim)).astype(np.float32)
    for word, index in vocab.items():
        if index in (preprocess.PAD_INDEX, preprocess.OOV_INDEX):
            continue
        if word in keyed_vectors.key_to_index:
            matrix[index] = keyed_vectors[word]
    matrix[preprocess.PAD_INDEX] = 0.0
    if oov == "mean" and n_rows > preprocess.OOV_INDEX and len(vectors):
        matrix[preprocess.OOV_INDEX] = vectors.mean(axis=0)
    return matrix


def embedding_coverage(keyed_vectors, vocab: Mapping[str, int]) -> float:
    """Fraction of the vocabulary's words (padding and OOV aside) that have a vector."""
    words = [w for w, i in vocab.items() if i not in (preprocess.PAD_INDEX, preprocess.OOV_INDEX)]
    if not words:
        return 0.0
    return sum(w in keyed_vectors.key_to_index for w in words) / len(words)


def fit_idf(token_lists: Iterable[Sequence[str]]) -> dict[str, float]:
    """Smoothed inverse document frequency of every word, as scikit-learn's TF-IDF:
    ``idf(w) = ln((1 + n) / (1 + df(w))) + 1``.

    >>> idf = fit_idf([["a", "b"], ["a"]])
    >>> round(idf["a"], 3), round(idf["b"], 3)
    (1.0, 1.405)
    """
    token_lists = list(token_lists)
    n = len(token_lists)
    df = Counter(w for tokens in token_lists for w in set(tokens))
    return {w: math.log((1 + n) / (1 + c)) + 1.0 for w, c in df.items()}


def document_vectors(token_lists: Iterable[Sequence[str]], keyed_vectors, *, weighting: str = "mean",
                     idf: Mapping[str, float] | None = None) -> np.ndarray:
    """One vector per text: the mean of its words' vectors, an array ``(n_texts, vector_size)``.

    ``weighting="tfidf"`` weights every occurrence by the word's inverse document
    frequency, so that words found in every essay ("think", "go") count less than
    telling ones; ``idf`` defaults to :func:`fit_idf` of ``token_lists`` themselves
    (pass the training texts' idf to transform test texts). Words without a vector
    are skipped; a text without any known word gets zeros.

    >>> kv = _keyed_vectors(["a", "b"], np.array([[1.0, 0.0], [0.0, 1.0]]))
    >>> document_vectors([["a", "a", "b"], ["zzz"]], kv).astype(float).round(3).tolist()
    [[0.667, 0.333], [0.0, 0.0]]
    """
    if weighting not in ("mean", "tfidf"):
        raise ValueError(f"weighting must be 'mean' or 'tfidf', got {weighting!r}")
    token_lists = [list(t) for t in token_lists]
    if weighting == "tfidf" and idf is None:
        idf = fit_idf(token_lists)
    key_to_index = keyed_vectors.key_to_index
    vectors = np.asarray(keyed_vectors.vectors, dtype=np.float32)
    out = np.zeros((len(token_lists), vectors.shape[1]), dtype=np.float32)
    for row, tokens in enumerate(token_lists):
        known = [w for w in tokens if w in key_to_index]
        if not known:
            continue
        ids = np.fromiter((key_to_index[w] for w in known), dtype=np.int64, count=len(known))
        if weighting == "mean":
            out[row] = vectors[ids].mean(axis=0)
        else:
            # a word absent from the idf table (unseen when idf was fitted) is as rare as can be
            top = max(idf.values()) if idf else 1.0
            weights = np.array([idf.get(w, top) for w in known], dtype=np.float32)
            out[row] = weights @ vectors[ids] / weights.sum()
    return out


def nearest_words(keyed_vectors, words: Sequence[str], topn: int = 8):
    """A table of each word's ``topn`` nearest neighbours (cosine similarity); unknown words are skipped.

    Returns a :class:`pandas.DataFrame` indexed by word, with the neighbours as
    ``"word (similarity)"`` strings.
    """
    import pandas as pd

    rows = {}
    for word in words:
        if word in keyed_vectors.key_to_index:
            rows[word] = [f"{w} ({s:.2f})" for w, s in keyed_vectors.most_similar(word, topn=topn)]
    return pd.DataFrame.from_dict(rows, orient="index", columns=[f"#{i + 1}" for i in range(topn)])


def course_texts(include: Sequence[str] = ("essays",), *, root=None) -> list[str]:
    """Raw texts of the course's corpora, to train Word2Vec on more words than the essays have.

    ``include`` names any of "essays" (all 2,465 essays: unlabelled words, so no
    leak for a task that is not cross-validated on them; the Big Five models train
    their own vectors inside each fold), "meld" and "emotion" (dair-ai): of these two
    only the **training** split is used, so their dev/test texts never shape
    vectors that their emotion models may use.
    """
    from .. import datasets

    texts: list[str] = []
    for name in include:
        if name == "essays":
            texts += datasets.load_essays(root).text.tolist()
        elif name == "meld":
            texts += datasets.load_meld(root, splits=("train",)).text.astype(str).tolist()
        elif name == "emotion":
            texts += datasets.load_dair_emotion(root, splits=("train",)).text.astype(str).tolist()
        else:
            raise ValueError(f"unknown corpus {name!r}; expected 'essays', 'meld' or 'emotion'")
    return [t for t in texts if isinstance(t, str) and t.strip()]
