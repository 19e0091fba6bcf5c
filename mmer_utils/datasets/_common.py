"""Shared helpers of the loaders: finding a data set folder, with errors that say how to get it."""

from __future__ import annotations

from pathlib import Path

from .. import config
from ..errors import DataLayoutError, DataNotFoundError
from .registry import get_spec


def dataset_dir(name: str, root: str | Path | None = None) -> Path:
    """Return ``<data root>/<folder of name>``, or raise one actionable line when it is missing."""
    spec = get_spec(name)
    base = Path(root).expanduser() if root is not None else config.data_root(must_exist=False)
    path = base / spec.folder
    if not path.is_dir():
        where = "" if root is not None else f" (data root from ${config.DATA_ENV} or default data/)"
        raise DataNotFoundError(f"{spec.name} not found at {path}{where}: {spec.how_to_get}")
    return path


def layout_error(name: str, path: Path, expected: str) -> DataLayoutError:
    spec = get_spec(name)
    return DataLayoutError(
        f"{spec.name} at {path} does not have the expected layout ({expected}); "
        f"get a fresh copy: {spec.how_to_get}"
    )
