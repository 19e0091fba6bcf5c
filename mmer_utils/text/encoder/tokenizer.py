"""BERT's uncased WordPiece tokenizer (clean, lowercase, strip accents, split punctuation, greedy longest match)."""

from __future__ import annotations

import unicodedata
from typing import Mapping, Sequence

import numpy as np

from ...errors import DataLayoutError

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

    :meth:`encode_batch` returns padded id arrays ready for
    :func:`~mmer_utils.text.encoder.build_bert_encoder`.

    Parameters
    ----------
    vocab : mapping token -> id, or str / Path
        The vocabulary, or the path of a ``vocab.txt`` (one token a line, the line
        number is the id). It must hold ``[PAD]``, ``[UNK]``, ``[CLS]`` and ``[SEP]``.
    max_chars_per_word : int
        Longer words become ``[UNK]``.
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

        When too long, the pair (the context) is cut first, from its *start* (the turns
        furthest back), then the text from its end.

        Parameters
        ----------
        texts : sequence of str, or None with ``ids``
        pairs : sequence of str or None
            The second segment of each text ("" or None: none).
        max_len : int
            Most word pieces per row, special tokens included.
        pad_to : int or None
            Width of the arrays; None: the longest row rounded up to a multiple of 8.
        ids : sequence of id lists or None
            Texts already tokenised (:meth:`ids`), instead of ``texts``.

        Returns
        -------
        dict
            ``{"token_ids", "segment_ids", "padding_mask"}``, int32 arrays of shape ``(n, L)``.
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
