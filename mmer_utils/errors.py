"""Errors that mmer_utils raises on bad input.

Each one carries a message that fits on one line and says what is missing and
how to get it. In a notebook they are shown as that line only, without a deep
traceback (see :func:`mmer_utils.config.short_errors_in_notebooks`); the command
line tools print the line and exit with status 2.
"""

from __future__ import annotations


class MmerError(Exception):
    """Base class of every error that mmer_utils raises on purpose."""


class DataNotFoundError(MmerError, FileNotFoundError):
    """A data root, a data set or one of its files is missing."""


class DataLayoutError(MmerError, ValueError):
    """A data set is there but its files are not laid out as expected."""


class UnreadableFileError(MmerError, ValueError):
    """A file exists but cannot be decoded (corrupt, empty, wrong format)."""


class DownloadError(MmerError, OSError):
    """A download failed; nothing half-written was left in the cache."""


class ChecksumError(DownloadError):
    """A downloaded or extracted file does not have the expected SHA-256."""


class UnsafeArchiveError(MmerError, ValueError):
    """An archive has a member that would land outside the target folder."""
