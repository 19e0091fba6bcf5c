"""The text chapter's pretrained-encoder experiments: the split subsets, frozen vectors + LR, fine-tuning.

The notebook (``06_pretrained_encoder``) and ``python -m mmer_utils.bench text-encoder``
(which records the numbers) run the same experiments through these functions: every
choice (C, the epoch kept) is made on the validation split, the test split is
scored once.
"""

from __future__ import annotations

from ... import config, evaluation

#: Fine-tuning settings, fixed in advance (BERT's usual range: learning rate 2-5e-5, 2-4 epochs, batch 32).
FINE_TUNE = {"epochs": 4, "batch_size": 32, "learning_rate": 5e-5}
#: Word pieces: utterance alone / utterance + context (the context is cut first).
MAX_LEN = {"utterance": 64, "context": 128}


def subset(df, split, n):
    """The rows of ``split``, or ``n`` of them drawn with the course's seed.

    Parameters
    ----------
    df : DataFrame
        With a ``split`` column.
    split : str
    n : int or None
        Rows drawn (None or more than there are: all).

    Returns
    -------
    DataFrame
    """
    rows = df[df.split == split]
    return rows.sample(n, random_state=config.DEFAULT_SEED) if n and n < len(rows) else rows


def frozen_lr(enc, tr_text, y_tr, dv_text, y_dv, *, metric: str):
    """Logistic regression on frozen vectors, C chosen on the validation split.

    Parameters
    ----------
    enc : SentenceEncoder
        The frozen encoder.
    tr_text, y_tr : training texts and labels.
    dv_text, y_dv : validation texts and labels.
    metric : str
        Score of :func:`mmer_utils.evaluation.classification_scores` that chooses C.

    Returns
    -------
    (LogisticRegression, float)
        The chosen model, fitted, and its C.
    """
    from sklearn.linear_model import LogisticRegression

    X_tr, X_dv = enc.transform(tr_text), enc.transform(dv_text)
    best = None
    for C in (0.3, 1.0, 3.0, 10.0):
        clf = LogisticRegression(C=C, max_iter=3000).fit(X_tr, y_tr)
        score = evaluation.classification_scores(y_dv, clf.predict(X_dv))[metric]
        if best is None or score > best[0]:
            best = (score, C, clf)
    return best[2], best[1]


def fine_tune(tr, y_tr, dv, y_dv, *, full: bool, context: bool, metric: str):
    """:class:`~mmer_utils.text.encoder.FineTunedTextClassifier` with the chapter's settings, fitted.

    Parameters
    ----------
    tr, y_tr : DataFrame (``text``, ``context``) and labels of the training split.
    dv, y_dv : the same for the validation split (chooses the epoch kept).
    full : bool
        :data:`FINE_TUNE`'s settings; False: one epoch, batches of 16 (a smoke run).
    context : bool
        Add the dialogue context as a second segment.
    metric : str
        The validation score that chooses the epoch.

    Returns
    -------
    FineTunedTextClassifier
    """
    from .finetune import FineTunedTextClassifier

    params = dict(FINE_TUNE) if full else {"epochs": 1, "batch_size": 16, "learning_rate": 5e-5}
    clf = FineTunedTextClassifier(context_column="context" if context else None,
                                          max_len=MAX_LEN["context" if context else "utterance"],
                                          val_metric=metric, **params)
    return clf.fit(tr, y_tr, validation_data=(dv, y_dv))
