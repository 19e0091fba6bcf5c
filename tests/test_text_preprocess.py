"""The text cleaning pipeline: each step on known inputs, the order, errors, the cache, sequences."""

import gzip

import numpy as np
import pytest

from conftest import real_dataset
from mmer_utils.errors import MmerError
from mmer_utils.text import preprocess as pp


@pytest.fixture
def nltk_data():
    return real_dataset("nltk_data")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MMER_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "text_tokens"


# --------------------------------------------------------------------------- each step


@pytest.mark.parametrize("text, expected", [
    ("I can't believe they've gone", "I cannot believe they have gone"),
    ("Can't stop, won't stop", "Cannot stop, will not stop"),
    ("WON'T", "Will not"),
    ("don't isn't you're we'll I'm she'd", "do not is not you are we will I am she would"),
    ("I\u2019m sure they\u2019re right, don\u2018t", "I am sure they are right, do not"),
    ("I donÕt know, I¹ll see", "I do not know, I will see"),  # the essays' mojibake apostrophes
    ("It's John's", "It's John's"),  # "'s" is ambiguous and left alone
    ("the dogs' bowls and 'em", "the dogs' bowls and 'em"),
])
def test_expand_contractions(text, expected):
    assert pp.expand_contractions(text) == expected


def test_normalize_apostrophes_keeps_real_letters():
    assert pp.normalize_apostrophes("café Õ ÕA") == "café Õ ÕA"
    assert pp.normalize_apostrophes("it\u2019s `quoted\u00b4") == "it's 'quoted'"


def test_tokenize_on_known_sentence(nltk_data):
    assert pp.tokenize(pp.expand_contractions("I can't believe they've gone")) == [
        "I", "can", "not", "believe", "they", "have", "gone"]
    # sentence split first (Punkt), then Treebank rules
    assert pp.tokenize("Dr. Smith arrived. He didn't stay!") == [
        "Dr.", "Smith", "arrived", ".", "He", "did", "n't", "stay", "!"]


def test_remove_punctuation_and_lowercase():
    tokens = ["Hello", ",", "World", "...", "'s", "jibber-jabber", "``", "''", "(yes", "--", "$5", "o'clock"]
    assert pp.remove_punctuation(tokens) == ["Hello", "World", "s", "jibber-jabber", "yes", "5", "o'clock"]
    assert pp.lowercase(["HeLLo", "USA"]) == ["hello", "usa"]


def test_remove_stopwords(nltk_data):
    stop = pp.english_stopwords()
    assert len(stop) == 179 and {"i", "the", "not", "no"} <= stop
    tokens = ["i", "am", "not", "happy", "no", "the", "weather", "didn't", "help"]
    assert pp.remove_stopwords(tokens) == ["happy", "weather", "help"]
    assert pp.remove_stopwords(tokens, keep_negations=True) == ["not", "happy", "no", "weather", "didn't", "help"]
    assert pp.remove_stopwords(["a", "b", "c"], stopwords={"b"}) == ["a", "c"]
    assert pp.remove_stopwords(["The"]) == ["The"]  # case-sensitive: lowercase first


def test_pos_tag_and_lemmatize_with_the_tag(nltk_data):
    assert pp.lemmatize([("running", "VBG"), ("better", "JJR"), ("geese", "NNS"), ("was", "VBD"),
                         ("happily", "RB"), ("zorblax", "NN")]) == ["run", "good", "goose", "be", "happily", "zorblax"]
    # without the tag (everything a noun) the verb would not be reduced
    assert pp.lemmatize([("running", "NN")]) == ["running"]
    tags = pp.pos_tag(["the", "dogs", "were", "running"])
    assert [w for w, _ in tags] == ["the", "dogs", "were", "running"]
    assert tags[1][1] == "NNS" and tags[3][1] == "VBG"
    assert pp.pos_tag([]) == []
    assert [pp.penn_to_wordnet(t) for t in ("JJS", "VBZ", "RBR", "NNP", "PRP", "")] == ["a", "v", "r", "n", "n", "n"]


# --------------------------------------------------------------------------- the pipeline


def test_clean_tokens_on_known_sentence(nltk_data):
    assert pp.clean_tokens("I can't believe they've gone!") == ["believe", "go"]
    assert pp.clean_tokens("I can't believe they've gone!", stop=False, lemma=False) == [
        "i", "can", "not", "believe", "they", "have", "gone"]
    assert pp.clean_tokens("I can't believe it", keep_negations=True) == ["not", "believe"]
    assert pp.clean_tokens("The dogs were running faster than I'd thought!") == ["dog", "run", "faster", "would",
                                                                                  "think"]


def test_pipeline_order(nltk_data, monkeypatch):
    calls = []
    for name in ("expand_contractions", "tokenize", "remove_punctuation", "lowercase", "remove_stopwords",
                 "pos_tag", "lemmatize"):
        original = getattr(pp, name)

        def spy(*args, _name=name, _f=original, **kwargs):
            calls.append(_name)
            return _f(*args, **kwargs)

        monkeypatch.setattr(pp, name, spy)
    pp.clean_tokens("We're here.")
    assert calls == ["expand_contractions", "tokenize", "remove_punctuation", "lowercase", "remove_stopwords",
                     "pos_tag", "lemmatize"]
    calls.clear()
    pp.clean_tokens("We're here.", expand=False, stop=False, lemma=False)
    assert calls == ["tokenize", "remove_punctuation", "lowercase"]


def test_contractions_are_expanded_before_tokenising(nltk_data):
    # expanding after the tokeniser would see "ca" + "n't" and make "ca not"
    assert "ca" not in pp.clean_tokens("I can't", stop=False, lemma=False)
    assert pp.clean_tokens("I can't", expand=False, stop=False, lemma=False) == ["i", "ca", "n't"]


@pytest.mark.parametrize("bad", ["", "   \n\t", None, 42, ["a list"]])
def test_empty_or_non_text_is_a_clear_error(bad, nltk_data):
    for fn in (pp.clean_tokens, pp.expand_contractions, pp.tokenize):
        with pytest.raises(pp.EmptyTextError) as info:
            fn(bad)
        assert isinstance(info.value, ValueError) and isinstance(info.value, MmerError)
        assert "\n" not in str(info.value)


def test_punctuation_only_text_gives_no_tokens(nltk_data):
    assert pp.clean_tokens("!!! ... ?") == []


# --------------------------------------------------------------------------- corpus and cache


def test_clean_corpus_matches_clean_tokens_and_names_bad_texts(nltk_data, cache):
    texts = ["Dogs were barking.", "I can't sleep"]
    assert pp.clean_corpus(texts, progress=False) == [pp.clean_tokens(t) for t in texts]
    with pytest.raises(pp.EmptyTextError, match="text 1 "):
        pp.clean_corpus(["fine text", "  "], progress=False, cache=False)
    assert pp.clean_corpus(["fine text", "  ", None], progress=False, cache=False, errors="empty") == [
        ["fine", "text"], [], []]
    with pytest.raises(TypeError, match="lemmatize"):
        pp.clean_corpus(texts, lemmatize=False)


def test_clean_corpus_cache_hit_and_invalidation(nltk_data, cache, monkeypatch):
    texts = ["The cats were sleeping.", "We'll see the geese tomorrow"]
    first = pp.clean_corpus(texts, progress=False)
    files = list(cache.glob("*.json.gz"))
    assert len(files) == 1 and not list(cache.glob("*.part"))

    def boom(*args, **kwargs):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(pp, "clean_tokens", boom)
    assert pp.clean_corpus(texts, progress=False) == first  # hit: nothing recomputed
    with pytest.raises(AssertionError):
        pp.clean_corpus(texts + ["another text"], progress=False)  # a new text: a new key
    with pytest.raises(AssertionError):
        pp.clean_corpus(texts, progress=False, lemma=False)  # an option changed: a new key
    with pytest.raises(AssertionError):
        pp.clean_corpus(["The cats were sleeping!", texts[1]], progress=False)  # one character changed
    assert pp.corpus_key(["ab", "c"]) != pp.corpus_key(["a", "bc"])
    # a damaged cache file is recomputed, not trusted
    monkeypatch.undo()
    monkeypatch.setenv("MMER_CACHE_DIR", str(cache.parent))
    files[0].write_bytes(b"not gzip")
    assert pp.clean_corpus(texts, progress=False) == first
    with gzip.open(files[0]) as f:
        assert f.read().startswith(b"[[")


def test_clean_corpus_in_parallel_gives_the_same_tokens_in_order(nltk_data, cache):
    import joblib

    texts = [f"Essay {i}: the dogs were running and I couldn't stop them {i} times." for i in range(70)]
    serial = pp.clean_corpus(texts, progress=False, cache=False)
    # threads instead of processes: the same chunking and reassembly, without starting new interpreters
    with joblib.parallel_config(backend="threading"):
        assert pp.clean_corpus(texts, n_jobs=2, progress=False, cache=False) == serial


# --------------------------------------------------------------------------- vocabulary and sequences


def test_build_vocab():
    tokens = [["b", "a", "b", "c"], ["a", "b", "d"], ["c"]]
    vocab = pp.build_vocab(tokens, min_count=2)
    assert vocab == {"<pad>": 0, "<oov>": 1, "b": 2, "a": 3, "c": 4}
    assert pp.build_vocab(tokens, min_count=1)["d"] == 5
    capped = pp.build_vocab(tokens, min_count=1, max_size=4)
    assert capped == {"<pad>": 0, "<oov>": 1, "b": 2, "a": 3} and len(capped) == 4
    assert list(pp.build_vocab([["z", "y", "z", "y"]], min_count=1)) == ["<pad>", "<oov>", "y", "z"]  # ties: a-z
    with pytest.raises(ValueError):
        pp.build_vocab(tokens, max_size=1)


def test_to_index_sequences_padding_truncation_and_oov():
    vocab = {"<pad>": 0, "<oov>": 1, "a": 2, "b": 3, "c": 4}
    seqs = [["a", "b", "c", "x", "a"], ["b"], []]
    pre = pp.to_index_sequences(seqs, vocab, 3)
    assert pre.dtype == np.int32 and pre.shape == (3, 3)
    assert pre.tolist() == [[4, 1, 2], [0, 0, 3], [0, 0, 0]]  # keeps the end, zeros first (Keras defaults)
    post = pp.to_index_sequences(seqs, vocab, 3, padding="post", truncating="post")
    assert post.tolist() == [[2, 3, 4], [3, 0, 0], [0, 0, 0]]
    assert pp.to_index_sequences([["a"]], vocab, 4, padding="post").tolist() == [[2, 0, 0, 0]]
    assert pp.to_index_sequences(seqs, vocab, 6).tolist()[0] == [0, 2, 3, 4, 1, 2]
    with pytest.raises(ValueError):
        pp.to_index_sequences(seqs, vocab, 3, padding="middle")
    with pytest.raises(ValueError):
        pp.to_index_sequences(seqs, vocab, 0)


def test_length_stats_and_choose_max_len():
    tokens = [["w"] * n for n in range(1, 101)]
    stats = pp.length_stats(tokens)
    assert stats["count"] == 100 and stats["mean"] == 50.5 and stats["min"] == 1 and stats["max"] == 100
    assert stats["50%"] == 50.5 and stats["90%"] == pytest.approx(90.1)
    assert pp.choose_max_len(tokens, quantile=0.9) == 91
    assert pp.choose_max_len(tokens, quantile=1.0) == 100
    assert pp.choose_max_len([["a"] * 10] * 5) == 10  # no rounding up of an exact value
    assert pp.choose_max_len([[]]) == 1
    with pytest.raises(ValueError):
        pp.choose_max_len(tokens, quantile=0)
    with pytest.raises(ValueError):
        pp.length_stats([])


def test_missing_nltk_data_is_a_one_line_error_with_the_fix(monkeypatch, tmp_path):
    from mmer_utils.errors import DataNotFoundError

    monkeypatch.setenv("MMER_DATA_DIR", str(tmp_path))  # no nltk_data there

    @pp._needs_nltk_data
    def needs_a_resource():
        raise LookupError("\n****\n  Resource punkt_tab not found.\n  Please use the NLTK Downloader\n****")

    with pytest.raises(DataNotFoundError, match="fetch nltk_data") as info:
        needs_a_resource()
    assert "punkt_tab" in str(info.value) and "\n" not in str(info.value)
