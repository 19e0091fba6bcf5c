"""Read and write ``.safetensors`` files with NumPy alone (an 8-byte header size, a JSON header, raw tensors)."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Mapping

import numpy as np

from ...atomic import atomic_write_bytes
from ...errors import DataLayoutError

_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32,
           "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


def read_safetensors(path) -> dict[str, np.ndarray]:
    """Read a ``.safetensors`` file into NumPy arrays (an 8-byte header size, a JSON header, raw tensors).

    A file that is cut short, has no valid header or holds an unknown dtype raises
    :class:`~mmer_utils.errors.DataLayoutError`.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    dict name -> array
        Every tensor (the ``__metadata__`` entry is left out), copied out of the file.

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
    """Write NumPy arrays as a ``.safetensors`` file, atomically (the tests build small checkpoints with it).

    Parameters
    ----------
    path : str or Path
    tensors : mapping name -> array
        Arrays of a dtype of the format (float16/32/64, int8/16/32/64, uint8, bool).
    """
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
