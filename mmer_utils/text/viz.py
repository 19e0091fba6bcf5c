"""Looking at a corpus: frequent and distinctive words, word clouds, LDA topics, t-SNE maps.

Every function takes clean token lists (:func:`mmer_utils.text.preprocess.clean_corpus`)
and returns plain data (lists, DataFrames, arrays); the ``plot_*`` functions draw
them on a Matplotlib axis and return it.

* :func:`most_common_words` / :func:`plot_most_common`: the top words of a corpus.
* :func:`distinctive_words`: the words that tell two groups apart (high vs low on a
  trait), by the log-odds ratio with an informative prior (Monroe,
  Colaresi & Quinn 2008, "Fightin' words"); :func:`plot_trait_clouds` draws them as
  word clouds (the ``wordcloud`` package, imported only there).
* :func:`lda_topics`: an LDA topic model (gensim) and its coherence;
  :func:`coherence_by_n_topics` compares a few numbers of topics.
* :func:`tsne_words`, :func:`tsne_points`: 2-D t-SNE maps of word and document
  vectors; :func:`neighbour_agreement` says in one number how much a label
  clusters in such a space, rather than trusting the eye.

>>> most_common_words([["a", "b", "a"], ["a", "c"]], 2)
[('a', 3), ('b', 1)]
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .. import config
from ..errors import MmerError


class MissingPackageError(MmerError, ImportError):
    """An optional package needed by one function is not installed."""


# --------------------------------------------------------------------------- frequent words


def word_counts(token_lists: Iterable[Sequence[str]], *, per_document: bool = False) -> Counter:
    """How often each word occurs (``per_document=True``: in how many texts)."""
    if per_document:
        return Counter(w for tokens in token_lists for w in set(tokens))
    return Counter(w for tokens in token_lists for w in tokens)


def most_common_words(token_lists: Iterable[Sequence[str]], n: int = 20, *,
                      per_document: bool = False) -> list[tuple[str, int]]:
    """The ``n`` most frequent words with their counts, most frequent first (ties alphabetical)."""
    counts = word_counts(token_lists, per_document=per_document)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def plot_most_common(token_lists_or_counts, n: int = 20, *, ax=None, title: str | None = None,
                     color: str = "C0"):
    """Horizontal bar plot of the ``n`` most common words (token lists, or ``(word, count)`` pairs)."""
    import matplotlib.pyplot as plt

    items = list(token_lists_or_counts)
    if items and isinstance(items[0], tuple) and len(items[0]) == 2 and isinstance(items[0][1], (int, np.integer)):
        pairs = items[:n]
    else:
        pairs = most_common_words(items, n)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 0.22 * len(pairs) + 0.8))
    words, counts = zip(*pairs) if pairs else ((), ())
    ax.barh(range(len(words)), counts, color=color)
    ax.set_yticks(range(len(words)), words)
    ax.invert_yaxis()
    ax.set_xlabel("count")
    if title:
        ax.set_title(title)
    return ax


def distinctive_words(token_lists: Sequence[Sequence[str]], y, *, min_count: int = 10, prior: float = 0.05,
                      per_document: bool = True) -> pd.DataFrame:
    """Words over-used by texts with ``y == 1`` versus ``y == 0``: the z-score of a log-odds ratio.

    ``per_document=True`` (default) compares the share of texts that use the word
    in each group, so that one essay saying "football" forty times does not make
    football a trait marker: the log odds ratio of the two shares divided by its
    standard error (Woolf). ``per_document=False`` compares the word's share of all
    the tokens of each group (Monroe, Colaresi & Quinn 2008, "Fightin' words").
    Either way an informative prior adds ``prior`` times the whole corpus' counts
    as pseudo-counts, which keeps rare words from topping the list by chance.

    ``z > 0``: more typical of group 1; ``|z| > 1.96`` is a difference that chance alone
    would rarely give for *one* word, but thousands of words are tested here, so expect
    dozens of such words even when the groups do not differ at all.

    Returns a DataFrame indexed by word, with ``count_1``, ``count_0`` (texts, or
    tokens) and ``z``, sorted by ``z`` (most typical of group 1 first).
    """
    y = np.asarray(y).astype(int)
    if len(y) != len(token_lists):
        raise ValueError(f"{len(token_lists)} token lists but {len(y)} labels")
    if set(np.unique(y)) - {0, 1}:
        raise ValueError("y must be 0/1")
    c1 = word_counts([t for t, v in zip(token_lists, y) if v == 1], per_document=per_document)
    c0 = word_counts([t for t, v in zip(token_lists, y) if v == 0], per_document=per_document)
    words = sorted(w for w in set(c1) | set(c0) if c1[w] + c0[w] >= min_count)
    if not words:
        return pd.DataFrame(columns=["count_1", "count_0", "z"])
    a1 = np.array([c1[w] for w in words], dtype=float)
    a0 = np.array([c0[w] for w in words], dtype=float)
    if per_document:
        n1, n0 = float((y == 1).sum()), float((y == 0).sum())
    else:
        n1, n0 = float(sum(c1.values())), float(sum(c0.values()))
    # pseudo-counts "with" and "without" the word, from the whole corpus, plus Haldane's 0.5
    # so that a word found in every text (or in none of a group) keeps a finite log-odds
    alpha = prior * (a1 + a0) + 0.5
    beta = prior * (n1 + n0 - a1 - a0) + 0.5
    b1, b0 = n1 - a1, n0 - a0
    delta = np.log((a1 + alpha) / (b1 + beta)) - np.log((a0 + alpha) / (b0 + beta))
    se = np.sqrt(1 / (a1 + alpha) + 1 / (b1 + beta) + 1 / (a0 + alpha) + 1 / (b0 + beta))
    return (pd.DataFrame({"count_1": a1.astype(int), "count_0": a0.astype(int), "z": delta / se}, index=words)
            .sort_values("z", ascending=False))


def _wordcloud_class():
    try:
        from wordcloud import WordCloud
    except ImportError:
        raise MissingPackageError("word clouds need the wordcloud package: pip install wordcloud") from None
    return WordCloud


def word_cloud(frequencies: Mapping[str, float], *, width: int = 600, height: int = 320, max_words: int = 80,
               colormap: str = "viridis", seed: int = config.DEFAULT_SEED):
    """A :class:`wordcloud.WordCloud` drawn from ``{word: weight}`` (weights > 0); show it with ``ax.imshow``."""
    WordCloud = _wordcloud_class()
    freqs = {w: float(v) for w, v in frequencies.items() if v > 0}
    if not freqs:
        raise ValueError("no word with a positive weight to draw")
    cloud = WordCloud(width=width, height=height, max_words=max_words, background_color="white",
                      colormap=colormap, random_state=seed, prefer_horizontal=0.95)
    return cloud.generate_from_frequencies(freqs)


def plot_trait_clouds(token_lists: Sequence[Sequence[str]], y, *, trait: str = "trait", method: str = "distinctive",
                      n: int = 60, min_count: int = 10, axes=None, seed: int = config.DEFAULT_SEED):
    """Two word clouds side by side: texts high (``y == 1``) and low (``y == 0``) on a trait.

    ``method="frequency"`` sizes words by their plain counts in each group (the two
    clouds then look almost the same: everybody writes "think", "go", "get");
    ``method="distinctive"`` by the z-score of :func:`distinctive_words`, so each cloud
    shows the ``n`` words most typical of its group. Returns the two axes.
    """
    import matplotlib.pyplot as plt

    if method not in ("distinctive", "frequency"):
        raise ValueError(f"method must be 'distinctive' or 'frequency', got {method!r}")
    y = np.asarray(y).astype(int)
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 3.2))
    if method == "frequency":
        groups = [dict(most_common_words([t for t, v in zip(token_lists, y) if v == g], n)) for g in (1, 0)]
    else:
        table = distinctive_words(token_lists, y, min_count=min_count)
        high = table[table.z > 0].head(n)
        low = table[table.z < 0].sort_values("z").head(n)
        groups = [dict(zip(high.index, high.z)), dict(zip(low.index, -low.z))]
    for ax, freqs, name, cmap in zip(axes, groups, ("high", "low"), ("Reds", "Blues")):
        ax.imshow(word_cloud(freqs, max_words=n, colormap=cmap, seed=seed), interpolation="bilinear")
        ax.set_title(f"{trait}: {name} ({int((y == (name == 'high')).sum())} texts)")
        ax.axis("off")
    return axes


# --------------------------------------------------------------------------- topics


@dataclass
class LdaResult:
    """What :func:`lda_topics` returns."""

    model: object  #: the :class:`gensim.models.LdaModel`
    dictionary: object  #: its :class:`gensim.corpora.Dictionary`
    corpus: list  #: the bag-of-words corpus it was trained on
    topics: list  #: per topic, its ``topn`` ``(word, probability)`` pairs
    coherence: float | None  #: mean coherence of the topics (``coherence`` measure)
    topic_coherence: list = field(default_factory=list)  #: coherence of each topic
    measure: str | None = None

    def table(self, topn: int = 8) -> pd.DataFrame:
        """One row per topic: its coherence and its top words."""
        return pd.DataFrame({
            "coherence": self.topic_coherence or [np.nan] * len(self.topics),
            "top words": [", ".join(w for w, _ in words[:topn]) for words in self.topics],
        }, index=pd.RangeIndex(len(self.topics), name="topic"))


def lda_topics(token_lists: Sequence[Sequence[str]], n_topics: int = 10, *, passes: int = 5, iterations: int = 100,
               no_below: int = 5, no_above: float = 0.5, keep_n: int = 20000, topn: int = 10,
               coherence: str | None = "c_v", seed: int = config.DEFAULT_SEED) -> LdaResult:
    """Fit an LDA topic model (gensim) on token lists and measure how coherent its topics are.

    Words in fewer than ``no_below`` texts or in more than a fraction ``no_above`` of
    them are dropped first (rare words cannot shape a topic, ubiquitous ones are in all).

    ``coherence``: "c_v" (Röder et al. 2015: how often a topic's top words occur
    near each other in the texts, via normalised PMI and cosine similarity; between
    0 and 1, higher is better, about 0.4-0.6 for readable topics; slower),
    "u_mass" (document co-occurrence, <= 0, closer to 0 is better; fast), "c_npmi",
    or None to skip it. Coherence agrees with human judgements of topic quality
    better than perplexity does, which is why it is used to pick the number of topics.
    """
    from gensim.corpora import Dictionary
    from gensim.models import CoherenceModel, LdaModel

    texts = [list(t) for t in token_lists]
    dictionary = Dictionary(texts)
    dictionary.filter_extremes(no_below=no_below, no_above=no_above, keep_n=keep_n)
    if len(dictionary) == 0:
        raise ValueError("no word left after filtering rare and common words; lower no_below or raise no_above")
    corpus = [dictionary.doc2bow(t) for t in texts]
    model = LdaModel(corpus, num_topics=n_topics, id2word=dictionary, passes=passes, iterations=iterations,
                     random_state=seed, alpha="auto", eta="auto", eval_every=None, chunksize=2000)
    topics = [model.show_topic(k, topn=topn) for k in range(n_topics)]
    score, per_topic = None, []
    if coherence is not None:
        # processes=1: reproducible, and polite on a shared machine
        cm = CoherenceModel(topics=[[w for w, _ in t] for t in topics], texts=texts if coherence != "u_mass" else None,
                            corpus=corpus, dictionary=dictionary, coherence=coherence, topn=topn, processes=1)
        per_topic = [float(c) for c in cm.get_coherence_per_topic()]
        score = float(np.mean(per_topic))
    return LdaResult(model, dictionary, corpus, topics, score, per_topic, coherence)


def coherence_by_n_topics(token_lists: Sequence[Sequence[str]], n_topics: Iterable[int] = (5, 10, 15, 20),
                          **kwargs) -> pd.DataFrame:
    """Coherence of :func:`lda_topics` for several numbers of topics: a DataFrame indexed by ``n_topics``."""
    rows = []
    for k in n_topics:
        res = lda_topics(token_lists, k, **kwargs)
        rows.append({"n_topics": k, "coherence": res.coherence, "measure": res.measure})
    return pd.DataFrame(rows).set_index("n_topics")


# --------------------------------------------------------------------------- t-SNE


def tsne_points(X, *, perplexity: float = 30.0, seed: int = config.DEFAULT_SEED, pca_dims: int | None = 50,
                normalize: bool = True, max_iter: int = 1000, threads: int | None = 1) -> np.ndarray:
    """2-D t-SNE of the rows of ``X``; returns an array ``(n, 2)``.

    ``normalize`` scales every row to unit length first (then Euclidean distance ranks
    neighbours as cosine similarity does, the natural measure for word vectors);
    ``pca_dims`` reduces to that many principal components first (faster, less noise).
    The perplexity (about the number of neighbours each point keeps) is lowered
    automatically for small inputs. Distances between clusters on a t-SNE map mean
    little; only who is near whom does.

    ``threads`` caps the OpenMP threads of scikit-learn's Barnes-Hut t-SNE (None: all
    cores). One thread is the default: the map is then reproducible bit for bit, and on
    a busy or shared CPU it is much faster (on a loaded 2-core machine, 300 points took
    2 s with one thread and 28 s with two, whose threads spin waiting on each other).
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or len(X) < 3:
        raise ValueError(f"t-SNE needs a 2-D array of at least 3 rows, got shape {X.shape}")
    if normalize:
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        X = X / np.where(norms > 0, norms, 1.0)
    if pca_dims and X.shape[1] > pca_dims and len(X) > pca_dims:
        X = PCA(pca_dims, random_state=seed).fit_transform(X)
    perplexity = min(perplexity, max(2.0, (len(X) - 1) / 3))
    tsne = TSNE(2, perplexity=perplexity, init="pca", learning_rate="auto", random_state=seed, max_iter=max_iter)
    if threads is None:
        return tsne.fit_transform(X)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        return tsne.fit_transform(X)


def tsne_words(keyed_vectors, n_words: int = 200, *, skip: Iterable[str] = (), **kwargs) -> pd.DataFrame:
    """t-SNE of the ``n_words`` most frequent words of a Word2Vec model: DataFrame ``word, x, y, rank``."""
    skip = set(skip)
    words = [w for w in keyed_vectors.index_to_key if w not in skip][:n_words]
    xy = tsne_points(np.stack([keyed_vectors[w] for w in words]), **kwargs)
    return pd.DataFrame({"word": words, "x": xy[:, 0], "y": xy[:, 1], "rank": np.arange(len(words))})


def plot_tsne_words(table: pd.DataFrame, *, ax=None, fontsize: int = 7, title: str | None = None):
    """Draw :func:`tsne_words`' map with the words written at their points."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 7))
    ax.scatter(table.x, table.y, s=4, color="0.7")
    for row in table.itertuples():
        ax.annotate(row.word, (row.x, row.y), fontsize=fontsize, ha="center", va="bottom")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title or f"t-SNE of the {len(table)} most frequent words' Word2Vec vectors")
    return ax


def plot_tsne_documents(xy, y, *, labels: Sequence[str] = ("low", "high"), trait: str = "trait", ax=None,
                        title: str | None = None, s: float = 8):
    """Scatter a 2-D map of documents, coloured by a 0/1 label."""
    import matplotlib.pyplot as plt

    xy = np.asarray(xy)
    y = np.asarray(y).astype(int)
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 5))
    for value, name, color in zip((0, 1), labels, ("tab:blue", "tab:red")):
        m = y == value
        ax.scatter(xy[m, 0], xy[m, 1], s=s, alpha=0.6, color=color, label=f"{trait} {name} ({m.sum()})")
    ax.legend(fontsize=8, loc="best")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def neighbour_agreement(X, y, *, k: int = 10) -> dict[str, float]:
    """How much a label clusters: the share of each point's ``k`` nearest neighbours with its label.

    Returns ``{"agreement": ..., "chance": ...}``; ``chance`` is what random
    neighbours would give (for each point, the share of the *other* points with its
    label). Agreement near chance means the label does not shape the space, whatever
    the eye sees on the map.

    >>> X = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]])
    >>> neighbour_agreement(X, [0, 0, 0, 1, 1, 1], k=2)
    {'agreement': 1.0, 'chance': 0.4}
    """
    from sklearn.neighbors import NearestNeighbors

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    n = len(X)
    if n <= k:
        raise ValueError(f"need more than k={k} points, got {n}")
    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X)
    neighbours = idx[:, 1:]  # the first neighbour of a point is itself
    agreement = float((y[neighbours] == y[:, None]).mean())
    same = np.array([(y == v).sum() for v in y]) - 1
    chance = float((same / (n - 1)).mean())
    return {"agreement": round(agreement, 6), "chance": round(chance, 6)}
