"""The source's text cleaning pipeline, one step per function, and padded word-id sequences.

The Big Five models of the source read essays cleaned in this order::

    expand contractions -> tokenise -> drop punctuation -> lowercase
    -> drop stop words -> POS-tag -> lemmatise with the POS tag

(:func:`clean_tokens` runs them all; :func:`clean_corpus` runs them on a corpus,
in parallel if asked, with an on-disk cache). Contractions are expanded on the
raw text, before the tokeniser splits "can't" into "ca" + "n't". The sequence
models then need fixed-length inputs: :func:`build_vocab` numbers the words
(0 = padding, 1 = out-of-vocabulary), :func:`choose_max_len` picks the padded
length from the corpus statistics (:func:`length_stats`) and
:func:`to_index_sequences` pads or truncates (like Keras' ``pad_sequences``).

Everything runs offline on the NLTK data under ``$MMER_DATA_DIR/nltk_data``
(Punkt ``punkt_tab``, the averaged perceptron tagger, the stop word list and
WordNet), which :func:`mmer_utils.config.setup_nltk` points NLTK at. Without it a
step raises a one-line error, unless :func:`fallback_without_nltk_data` was called:
then each step whose data is missing uses a plain stand-in (a regex tokeniser,
scikit-learn's stop words, no tags, no lemmas), and with the data present nothing changes.

>>> expand_contractions("I can't believe they've gone")
'I cannot believe they have gone'
>>> clean_tokens("I can't believe they've gone!")   # doctest: +SKIP
['believe', 'go']
>>> vocab = build_vocab([["a", "b", "a"], ["a", "c", "c"]], min_count=2)
>>> vocab
{'<pad>': 0, '<oov>': 1, 'a': 2, 'c': 3}
>>> to_index_sequences([["a", "b", "c"]], vocab, 5).tolist()
[[0, 0, 2, 1, 3]]
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import math
import os
import re
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from .. import config
from ..atomic import atomic_path
from ..errors import DataNotFoundError, MmerError

#: Index of the padding entry of every vocabulary built here.
PAD_INDEX = 0
#: Index of the out-of-vocabulary entry (words unseen, or too rare, when the vocabulary was built).
OOV_INDEX = 1
PAD_TOKEN = "<pad>"
OOV_TOKEN = "<oov>"

#: Bumped whenever the cleaning changes, so that old cached corpora are not reused.
CACHE_VERSION = 1


class EmptyTextError(MmerError, ValueError):
    """A text to clean is not usable: empty, whitespace only, or not a string."""


# --------------------------------------------------------------------------- input checks


#: NLTK's data that each step reads (``nltk.data.find`` paths) and what stands in for it without it.
NLTK_RESOURCES: dict[str, tuple[str, str]] = {
    "punkt_tab": ("tokenizers/punkt_tab/english/", "a regex tokeniser"),
    "stopwords": ("corpora/stopwords/", "scikit-learn's English stop words"),
    "averaged_perceptron_tagger_eng": ("taggers/averaged_perceptron_tagger_eng/", "no part-of-speech tags"),
    "wordnet": ("corpora/wordnet/", "no lemmas"),
}

_FALLBACK = False  # set by fallback_without_nltk_data()


def missing_nltk_data() -> list[str]:
    """The names of :data:`NLTK_RESOURCES` that NLTK cannot find (after :func:`config.setup_nltk`)."""
    import nltk

    config.setup_nltk()
    missing = []
    for name, (path, _) in NLTK_RESOURCES.items():
        try:
            nltk.data.find(path)
        except LookupError:
            missing.append(name)
    return missing


def fallback_without_nltk_data(on: bool = True) -> str | None:
    """Let the pipeline run without NLTK's data (``on=False``: raise again); return the line to show.

    With the data installed nothing changes: every step is NLTK's, and the result is None.
    Without (part of) it, each step whose data is missing uses a plain stand-in instead of
    raising :class:`DataNotFoundError`: :func:`tokenize` a regular expression,
    :func:`english_stopwords` scikit-learn's list, :func:`pos_tag` the tag ``"?"`` and
    :func:`lemmatize` the words unchanged. The result is then one line that says what stands
    in for what and how to get the data (the cache of :func:`clean_corpus` keeps the two apart).

    >>> fallback_without_nltk_data() is None or "fetch nltk_data" in fallback_without_nltk_data()  # doctest: +SKIP
    True
    """
    global _FALLBACK
    _FALLBACK = bool(on)
    missing = missing_nltk_data()
    if not (on and missing):
        return None
    instead = ", ".join(NLTK_RESOURCES[m][1] for m in missing)
    return (f"NLTK's data not found ({', '.join(missing)}): using {instead} instead; for the course's "
            f"preprocessing: python -m mmer_utils.datasets fetch nltk_data")


def _needs_nltk_data(fn=None, *, fallback=None):
    """Turn NLTK's many-line LookupError about missing data into the course's one-line error,
    or into ``fallback(*args, **kwargs)`` after :func:`fallback_without_nltk_data`."""
    if fn is None:
        return functools.partial(_needs_nltk_data, fallback=fallback)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except LookupError as exc:
            config.setup_nltk()  # the data may have been fetched since the package was imported
            try:
                return fn(*args, **kwargs)
            except LookupError:
                if _FALLBACK and fallback is not None:
                    return fallback(*args, **kwargs)
                first = next((line.strip() for line in str(exc).splitlines() if "Resource" in line), "")
                raise DataNotFoundError(f"NLTK data missing ({first or type(exc).__name__}): "
                                        "python -m mmer_utils.datasets fetch nltk_data") from None

    return wrapper


def check_text(text, *, where: str = "text") -> str:
    """Return ``text`` if it is a string with something other than whitespace; else raise.

    Raises :class:`EmptyTextError` (a ``ValueError``) with a one-line message.
    """
    if not isinstance(text, str):
        raise EmptyTextError(f"{where} must be a string, got {type(text).__name__} ({text!r:.40})")
    if not text.strip():
        raise EmptyTextError(f"{where} is empty or whitespace only: nothing to analyse")
    return text


# --------------------------------------------------------------------------- contractions

#: Apostrophe look-alikes: curly quotes, prime, backtick, acute accent.
_APOSTROPHES = re.compile(r"[\u2019\u2018\u201b\u02bc\u2032`\u00b4]")
#: Mojibake of the curly apostrophe in the essays (Mac Roman 0xD5 read as Latin-1 "Õ",
#: and "¹"), only between two letters ("donÕt", "I¹m"), so real letters elsewhere are kept.
_MOJIBAKE_APOSTROPHES = re.compile(r"(?<=[A-Za-z])[\u00d5\u00b9](?=[A-Za-z])")

#: The source's regex table, most specific first ("won't" before "n't").
CONTRACTIONS: tuple[tuple[str, str], ...] = (
    (r"\bwon't\b", "will not"),
    (r"\bcan't\b", "cannot"),
    (r"\bshan't\b", "shall not"),
    (r"n't\b", " not"),
    (r"'ve\b", " have"),
    (r"'re\b", " are"),
    (r"'ll\b", " will"),
    (r"'m\b", " am"),
    (r"'d\b", " would"),  # "I'd" is "I had" as often as "I would"; the source (and most tables) pick "would"
)
_CONTRACTION_RES = tuple((re.compile(p, re.IGNORECASE), r) for p, r in CONTRACTIONS)


def normalize_apostrophes(text: str) -> str:
    """Replace curly and other look-alike apostrophes (and the essays' "Õ"/"¹" mojibake) by ``'``.

    >>> normalize_apostrophes("I\u2019m sure I donÕt")
    "I'm sure I don't"
    """
    text = _APOSTROPHES.sub("'", text)
    return _MOJIBAKE_APOSTROPHES.sub("'", text)


def _keep_case(replacement: str):
    def sub(match: re.Match) -> str:
        found = match.group(0)
        if found[:1].isupper():  # "Can't" -> "Cannot", "WON'T" -> "Will not"
            return replacement[:1].upper() + replacement[1:]
        return replacement

    return sub


def expand_contractions(text: str) -> str:
    """Expand English contractions with the source's regex table (:data:`CONTRACTIONS`).

    "can't" -> "cannot", "won't" -> "will not", "n't" -> " not", "'ve" -> " have",
    "'re" -> " are", "'ll" -> " will", "'m" -> " am", "'d" -> " would"; curly
    apostrophes are handled like straight ones. "'s" is left alone: it is "is",
    "has" or a possessive, which a regex cannot tell apart.

    >>> expand_contractions("Don\u2019t worry, I'm fine and we'll see")
    'Do not worry, I am fine and we will see'
    """
    text = normalize_apostrophes(check_text(text))
    for pattern, replacement in _CONTRACTION_RES:
        text = pattern.sub(_keep_case(replacement), text)
    return text


# --------------------------------------------------------------------------- tokens


#: The stand-in tokeniser: words (with inner hyphens or apostrophes: "jibber-jabber", "o'clock") and
#: single punctuation marks.
_PLAIN_TOKEN = re.compile(r"\w+(?:[-']\w+)*|[^\w\s]")


def _plain_tokenize(text: str) -> list[str]:
    return _PLAIN_TOKEN.findall(check_text(text))


@_needs_nltk_data(fallback=_plain_tokenize)
def tokenize(text: str) -> list[str]:
    """Split a text into word and punctuation tokens (NLTK ``word_tokenize``, Punkt ``punkt_tab``).

    Sentences are found first (Punkt), then each is split with the Penn Treebank
    rules: "don't" -> "do", "n't"; "cannot" -> "can", "not"; punctuation is its own token.

    >>> tokenize("Hello, world. It's 5 o'clock!")   # doctest: +SKIP
    ['Hello', ',', 'world', '.', 'It', "'s", '5', "o'clock", '!']

    Without Punkt, after :func:`fallback_without_nltk_data`: a regular expression
    (no sentences; "It's" stays one token).
    """
    from nltk.tokenize import word_tokenize

    return word_tokenize(check_text(text), language="english")


def _is_punct_char(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "PS"  # punctuation and symbols (quotes, dashes, $, +, ...)


def remove_punctuation(tokens: Iterable[str]) -> list[str]:
    """Drop punctuation tokens and strip punctuation from the ends of the others.

    A token without any letter or digit ("." "..." "--" "``") is dropped; "'s" becomes "s",
    "(hello" becomes "hello"; punctuation inside a word is kept ("jibber-jabber", "o'clock").

    >>> remove_punctuation(["Hello", ",", "world", "...", "'s", "jibber-jabber", "``"])
    ['Hello', 'world', 's', 'jibber-jabber']
    """
    out = []
    for token in tokens:
        start, end = 0, len(token)
        while start < end and _is_punct_char(token[start]):
            start += 1
        while end > start and _is_punct_char(token[end - 1]):
            end -= 1
        word = token[start:end]
        if word and any(ch.isalnum() for ch in word):
            out.append(word)
    return out


def lowercase(tokens: Iterable[str]) -> list[str]:
    """Lowercase every token.

    >>> lowercase(["The", "USA", "ok"])
    ['the', 'usa', 'ok']
    """
    return [t.lower() for t in tokens]


def _plain_stopwords() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


@_needs_nltk_data(fallback=_plain_stopwords)
@functools.lru_cache(maxsize=1)
def english_stopwords() -> frozenset[str]:
    """NLTK's English stop word list (179 words, lowercase).

    Without it, after :func:`fallback_without_nltk_data`: scikit-learn's ``ENGLISH_STOP_WORDS`` (318 words).
    """
    from nltk.corpus import stopwords

    return frozenset(stopwords.words("english"))


#: Stop words that carry a negation; ``keep_negations=True`` keeps them.
def negation_words() -> frozenset[str]:
    """The negations in NLTK's stop word list: "no", "nor", "not" and the "n't" forms ("don't", "don", ...)."""
    words = english_stopwords()
    neg = {"no", "nor", "not"}
    for w in words:
        if w.endswith("n't"):
            neg.add(w)
            neg.add(w[:-2])  # the tokenised stem without the apostrophe: "don't" -> "don"
    return frozenset(neg & words)


def remove_stopwords(tokens: Iterable[str], stopwords: Iterable[str] | None = None, *,
                     keep_negations: bool = False) -> list[str]:
    """Drop stop words (default: NLTK's English list, :func:`english_stopwords`).

    The comparison is case-sensitive: lowercase the tokens first, as the pipeline does.
    ``keep_negations=True`` keeps "no", "not", "nor" and the "n't" forms: the source
    drops them, but "not happy" and "happy" mean opposite things.

    >>> remove_stopwords(["i", "am", "not", "happy"], ["i", "am", "not"])
    ['happy']
    >>> remove_stopwords(["i", "am", "not", "happy"], ["i", "am", "not"], keep_negations=True)  # doctest: +SKIP
    ['not', 'happy']

    (The last example needs NLTK's stop word list, for its "n't" forms: ``fetch nltk_data``.)
    """
    stop = english_stopwords() if stopwords is None else frozenset(stopwords)
    if keep_negations:
        stop = stop - {"no", "nor", "not", "never"} - negation_words()
    return [t for t in tokens if t not in stop]


def pos_tag(tokens: Sequence[str]) -> list[tuple[str, str]]:
    """Penn Treebank part-of-speech tags (NLTK's averaged perceptron tagger).

    >>> pos_tag(["running", "dogs"])   # doctest: +SKIP
    [('running', 'VBG'), ('dogs', 'NNS')]

    Without the tagger, after :func:`fallback_without_nltk_data`: every tag is ``"?"`` (unknown).
    """
    tokens = list(tokens)
    return _pos_tag(tokens) if tokens else []


def _no_tags(tokens: list[str]) -> list[tuple[str, str]]:
    return [(t, "?") for t in tokens]  # unknown; penn_to_wordnet reads it as a noun


@_needs_nltk_data(fallback=_no_tags)
def _pos_tag(tokens: list[str]) -> list[tuple[str, str]]:
    from nltk import pos_tag as nltk_pos_tag

    return nltk_pos_tag(tokens, lang="eng")


def penn_to_wordnet(tag: str) -> str:
    """Map a Penn tag to WordNet's part of speech: J -> "a", V -> "v", R -> "r", anything else -> "n".

    >>> [penn_to_wordnet(t) for t in ("JJR", "VBG", "RB", "NNS", "CD")]
    ['a', 'v', 'r', 'n', 'n']
    """
    return {"J": "a", "V": "v", "R": "r"}.get(tag[:1], "n")


@functools.lru_cache(maxsize=1)
def _lemmatizer():
    from nltk.stem import WordNetLemmatizer

    return WordNetLemmatizer()


@functools.lru_cache(maxsize=200_000)
def _lemma(word: str, wn_pos: str) -> str:
    # A corpus repeats the same (word, tag) pairs again and again: caching them makes
    # lemmatising the 2,465 essays several times faster.
    return _lemmatizer().lemmatize(word, wn_pos)


def lemmatize(tagged: Iterable[tuple[str, str]]) -> list[str]:
    """Lemmatise ``(word, Penn tag)`` pairs with WordNet, the tag choosing the part of speech.

    Without the tag WordNet treats every word as a noun: "running" stays "running";
    with VBG it becomes "run", "better"/JJR becomes "good". Words WordNet does not
    know are returned unchanged.

    >>> lemmatize([("running", "VBG"), ("better", "JJR"), ("geese", "NNS")])   # doctest: +SKIP
    ['run', 'good', 'goose']

    Without WordNet, after :func:`fallback_without_nltk_data`: the words unchanged.
    """
    return _lemmatize_pairs([(word, penn_to_wordnet(tag)) for word, tag in tagged])


def _no_lemmas(pairs: list[tuple[str, str]]) -> list[str]:
    return [word for word, _ in pairs]


@_needs_nltk_data(fallback=_no_lemmas)
def _lemmatize_pairs(pairs: list[tuple[str, str]]) -> list[str]:
    return [_lemma(word, wn_pos) for word, wn_pos in pairs]


# --------------------------------------------------------------------------- pipeline


def clean_tokens(text: str, *, expand: bool = True, stop: bool = True, lemma: bool = True,
                 keep_negations: bool = False) -> list[str]:
    """The source's whole cleaning pipeline on one text; returns the clean tokens.

    Order: apostrophes normalised -> :func:`expand_contractions` (``expand``) ->
    :func:`tokenize` -> :func:`remove_punctuation` -> :func:`lowercase` ->
    :func:`remove_stopwords` (``stop``, ``keep_negations``) -> :func:`pos_tag` +
    :func:`lemmatize` (``lemma``).

    As in the source, the tagger sees the sentence after punctuation and stop words are
    gone and everything is lowercase, which costs it some accuracy (it was trained on
    full, cased sentences); notebook ``01_text/01_preprocessing`` shows the effect.

    Raises :class:`EmptyTextError` on an empty, whitespace-only or non-string text.
    A text made only of punctuation or stop words gives an empty list.

    >>> clean_tokens("The dogs were running faster than I'd thought!")   # doctest: +SKIP
    ['dog', 'run', 'faster', 'would', 'think']
    """
    text = normalize_apostrophes(check_text(text))
    if expand:
        text = expand_contractions(text)
    tokens = lowercase(remove_punctuation(tokenize(text)))
    if stop:
        tokens = remove_stopwords(tokens, keep_negations=keep_negations)
    if lemma:
        tokens = lemmatize(pos_tag(tokens))
    return tokens


def _clean_many(texts: Sequence, options: dict, errors: str, offset: int = 0,
                fallback: bool | None = None) -> list[list[str]]:
    global _FALLBACK
    if fallback is not None:  # a worker process: the parent's choice of fallback_without_nltk_data
        _FALLBACK = fallback
    out = []
    for i, text in enumerate(texts):
        try:
            check_text(text, where=f"text {offset + i}")
        except EmptyTextError:
            if errors == "raise":
                raise
            out.append([])
            continue
        out.append(clean_tokens(text, **options))
    return out


def corpus_key(texts: Sequence[str], **options) -> str:
    """A SHA-256 of the texts, the options and the pipeline's version (the cache key of :func:`clean_corpus`)."""
    import nltk

    h = hashlib.sha256()
    h.update(json.dumps({"v": CACHE_VERSION, "nltk": nltk.__version__, **options}, sort_keys=True).encode())
    for text in texts:
        data = str(text).encode("utf-8", "surrogatepass") if isinstance(text, str) else repr(text).encode()
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def _atomic_write_json_gz(path: Path, obj) -> None:
    # a crash or a parallel run never leaves half a file
    with atomic_path(path) as tmp, open(tmp, "wb") as raw, \
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=5, mtime=0) as gz:
        gz.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def clean_corpus(texts: Iterable[str], *, n_jobs: int = 1, progress: bool = True, cache: bool = True,
                 errors: str = "raise", **kwargs) -> list[list[str]]:
    """:func:`clean_tokens` on every text, cached on disk; returns one token list per text.

    Tagging and lemmatising the 2,465 essays takes about a minute on one core, so
    the result is stored under ``config.cache_dir("text_tokens")``, keyed by a hash
    of the texts and the options (:func:`corpus_key`): the same corpus with the same
    options is read back in a second; any change to a text or an option recomputes.

    Parameters
    ----------
    texts : sequence of str (a list, a pandas Series, ...).
    n_jobs : worker processes (joblib); 1 runs in this process.
    progress : show a progress bar (tqdm) while cleaning.
    cache : read and write the on-disk cache.
    errors : "raise" (default) stops on an empty or non-string text with
        :class:`EmptyTextError` naming its position; "empty" gives it an empty token list.
    **kwargs : options of :func:`clean_tokens` (``expand``, ``stop``, ``lemma``, ``keep_negations``).

    >>> clean_corpus(["Dogs were barking.", "I can't sleep"], cache=False, progress=False)   # doctest: +SKIP
    [['dog', 'bark'], ['sleep']]
    """
    if errors not in ("raise", "empty"):
        raise ValueError(f"errors must be 'raise' or 'empty', got {errors!r}")
    unknown = set(kwargs) - {"expand", "stop", "lemma", "keep_negations"}
    if unknown:
        raise TypeError(f"unknown option(s) of clean_tokens: {sorted(unknown)}")
    texts = list(texts)
    options = {"expand": True, "stop": True, "lemma": True, "keep_negations": False, **kwargs}
    path = None
    if cache:
        # stand-ins for missing NLTK data give other tokens: another key (unchanged with all the data)
        missing = missing_nltk_data() if _FALLBACK else []
        key = corpus_key(texts, errors=errors, **options, **({"without_nltk_data": missing} if missing else {}))
        path = config.cache_dir("text_tokens") / f"{key[:32]}.json.gz"
        if path.is_file():
            try:
                with gzip.open(path, "rb") as f:
                    tokens = json.loads(f.read().decode("utf-8"))
                if len(tokens) == len(texts):
                    return tokens
            except (OSError, ValueError, EOFError):
                pass  # a damaged cache file is recomputed and replaced

    if n_jobs == 1 or len(texts) < 50:
        items = texts
        if progress:
            from tqdm.auto import tqdm

            items = tqdm(texts, desc="cleaning", unit="text", leave=False)
        tokens = _clean_many(items, options, errors)
    else:
        from joblib import Parallel, delayed

        n_workers = n_jobs if n_jobs > 0 else (os.cpu_count() or 1)
        size = max(1, math.ceil(len(texts) / (4 * n_workers)))
        chunks = [(i, texts[i:i + size]) for i in range(0, len(texts), size)]
        parallel = Parallel(n_jobs=n_jobs, return_as="generator")
        parts = parallel(delayed(_clean_many)(chunk, options, errors, i, _FALLBACK) for i, chunk in chunks)
        if progress:
            from tqdm.auto import tqdm

            parts = tqdm(parts, total=len(chunks), desc="cleaning", unit="chunk", leave=False)
        tokens = [t for part in parts for t in part]

    if path is not None:
        _atomic_write_json_gz(path, tokens)
    return tokens


# --------------------------------------------------------------------------- statistics and sequences


def length_stats(token_lists: Sequence[Sequence[str]]) -> dict[str, float]:
    """Count, mean, std, min, quartiles, 90th/95th/99th percentiles and max of the lengths.

    >>> length_stats([["a"], ["a", "b", "c"]])["mean"]
    2.0
    """
    lengths = np.array([len(t) for t in token_lists], dtype=float)
    if lengths.size == 0:
        raise ValueError("no token lists")
    qs = {"25%": 0.25, "50%": 0.5, "75%": 0.75, "90%": 0.9, "95%": 0.95, "99%": 0.99}
    stats = {"count": float(lengths.size), "mean": float(lengths.mean()), "std": float(lengths.std()),
             "min": float(lengths.min())}
    stats.update({name: float(np.quantile(lengths, q)) for name, q in qs.items()})
    stats["max"] = float(lengths.max())
    return stats


def choose_max_len(token_lists: Sequence[Sequence[str]], quantile: float = 0.9) -> int:
    """The padded length: the ``quantile`` of the token counts, rounded up.

    With 0.9, nine texts in ten fit whole and one in ten is truncated; a larger
    quantile keeps more words but pads most texts with more zeros (slower, and
    a longer sequence for the LSTM to carry).

    >>> choose_max_len([["a"] * n for n in range(1, 11)], quantile=0.9)
    10
    """
    if not 0 < quantile <= 1:
        raise ValueError(f"quantile must be in (0, 1], got {quantile}")
    lengths = np.array([len(t) for t in token_lists])
    if lengths.size == 0:
        raise ValueError("no token lists")
    return max(1, int(math.ceil(np.quantile(lengths, quantile) - 1e-9)))


def build_vocab(token_lists: Iterable[Sequence[str]], min_count: int = 2, max_size: int | None = None) -> dict[str, int]:
    """Number the words: ``{"<pad>": 0, "<oov>": 1, most frequent word: 2, ...}``.

    Words seen fewer than ``min_count`` times are left out (they map to OOV); ties
    in frequency are broken alphabetically, so the numbering is reproducible.
    ``max_size`` caps the number of entries, padding and OOV included, so that
    ``len(vocab)`` is the number of rows of the embedding.

    >>> build_vocab([["b", "a", "b", "c"]], min_count=1, max_size=4)
    {'<pad>': 0, '<oov>': 1, 'b': 2, 'a': 3}
    """
    if max_size is not None and max_size < 2:
        raise ValueError("max_size must leave room for <pad> and <oov> (>= 2)")
    counts = Counter(w for tokens in token_lists for w in tokens)
    words = sorted((w for w, c in counts.items() if c >= min_count and w not in (PAD_TOKEN, OOV_TOKEN)),
                   key=lambda w: (-counts[w], w))
    if max_size is not None:
        words = words[:max_size - 2]
    vocab = {PAD_TOKEN: PAD_INDEX, OOV_TOKEN: OOV_INDEX}
    vocab.update({w: i + 2 for i, w in enumerate(words)})
    return vocab


def to_index_sequences(token_lists: Iterable[Sequence[str]], vocab: Mapping[str, int], max_len: int, *,
                       padding: str = "pre", truncating: str = "pre", dtype="int32") -> np.ndarray:
    """Word ids padded or truncated to ``max_len``: an array ``(n_texts, max_len)``.

    Unknown words get :data:`OOV_INDEX` (1), padding is :data:`PAD_INDEX` (0).
    ``padding`` / ``truncating`` ("pre" or "post") say on which side zeros are added
    and words are cut, with Keras' ``pad_sequences`` defaults ("pre": keep the end of
    long texts, and put the zeros first so that the last steps an LSTM reads are words).

    >>> v = {"<pad>": 0, "<oov>": 1, "a": 2, "b": 3}
    >>> to_index_sequences([["a", "b", "x"], ["b"]], v, 2, truncating="post", padding="post").tolist()
    [[2, 3], [3, 0]]
    """
    if padding not in ("pre", "post") or truncating not in ("pre", "post"):
        raise ValueError("padding and truncating must be 'pre' or 'post'")
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    token_lists = list(token_lists)
    out = np.full((len(token_lists), max_len), PAD_INDEX, dtype=dtype)
    oov = vocab.get(OOV_TOKEN, OOV_INDEX)
    for row, tokens in enumerate(token_lists):
        ids = [vocab.get(w, oov) for w in tokens]
        if len(ids) > max_len:
            ids = ids[-max_len:] if truncating == "pre" else ids[:max_len]
        if not ids:
            continue
        if padding == "pre":
            out[row, max_len - len(ids):] = ids
        else:
            out[row, :len(ids)] = ids
    return out
