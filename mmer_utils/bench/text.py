"""``python -m mmer_utils.bench text --full``: the Big Five models and the text emotion models."""

from __future__ import annotations


def run(full: bool = False, command: str = "python -m mmer_utils.bench text") -> list:
    from .text_bigfive import run as run_bigfive
    from .text_emotion import run as run_emotion

    return run_bigfive(full=full, command=command) + run_emotion(full=full, command=command)
