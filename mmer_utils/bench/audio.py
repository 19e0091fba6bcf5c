"""``python -m mmer_utils.bench audio --full``: every model of the audio chapter on the same actor folds,
then the deep and classic ones combined (``audio-stack``)."""

from __future__ import annotations


def run(full: bool = False, command: str = "python -m mmer_utils.bench audio") -> list:
    from .audio_classic import run as run_classic
    from .audio_deep import run as run_deep
    from .audio_stack import run as run_stack

    return run_classic(full=full, command=command) + run_deep(full=full, command=command) \
        + run_stack(full=full, command=command)
