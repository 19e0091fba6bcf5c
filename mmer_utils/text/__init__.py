"""Text chapter: Big Five traits from essays, and emotion in text (MELD, dair-ai).

Modules, one idea each: :mod:`~mmer_utils.text.preprocess` (the source's
cleaning pipeline), :mod:`~mmer_utils.text.embeddings` (Word2Vec trained on the
course's corpora), :mod:`~mmer_utils.text.viz` (word clouds, topics, t-SNE),
:mod:`~mmer_utils.text.bigfive` (trait models and their cross-validation),
:mod:`~mmer_utils.text.emotion` (text emotion models) and
:mod:`~mmer_utils.text.predict` (inference on a new answer).
"""
