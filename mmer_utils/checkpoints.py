"""Training that outlives a machine: complete checkpoints and an exact resume.

A full training of the course's larger networks takes longer than one working session
on a laptop, a Colab runtime or a CI machine. :func:`fit_in_slices` trains a Keras model
in **slices**: after every epoch it writes a complete checkpoint to a folder, and the
same call on another machine (after ``git pull`` of the committed folder, or a copy of
it) continues where the last one stopped, with the **same result** as a run that was
never interrupted:

* the model with its optimizer state (Keras' ``.keras``: weights, moments, step count,
  learning rate) and the weights of the best epoch so far;
* the state of early stopping and of the learning-rate reduction (:class:`Plateau`),
  the history of every metric, the epoch, the training time;
* the data order: epoch ``e`` visits the training examples in the order
  ``default_rng([seed, e]).permutation(n)``, and every random layer (augmentation,
  dropout) is reseeded from ``(seed, e)`` at the start of the epoch, so a resumed epoch
  draws exactly what the uninterrupted one would have drawn.

SIGINT (Ctrl+C) and SIGTERM stop training after the current batch; the checkpoint of
the last finished epoch is already on disk. ``max_minutes`` ends a slice cleanly before
an epoch that would not fit in the time left.

Files larger than :data:`PART_BYTES` are stored in numbered parts (``model.keras.000``,
``.001``, ...) so that each fits in a repository's size limit per file; ``state.json``,
written last and atomically, names the parts with their SHA-256, so a checkpoint is
either complete or ignored.

>>> import numpy as np, keras, tempfile
>>> def build():
...     inputs = keras.Input((4,))
...     return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(inputs))
>>> X, y = np.random.default_rng(0).normal(size=(64, 4)).astype("float32"), np.arange(64) % 3
>>> folder = tempfile.mkdtemp()
>>> run = fit_in_slices(build, (X, y), (X, y), folder=folder, epochs=2, batch_size=16, verbose=0)
>>> run.state.epoch, run.state.finished
(2, True)
"""

from __future__ import annotations

import hashlib
import json
import signal
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .atomic import atomic_path, atomic_write_json
from .errors import MmerError

#: Largest file a checkpoint writes; bigger ones are split into numbered parts.
PART_BYTES = 9 * 2**20
STATE_FILE = "state.json"
#: Bump when the checkpoint layout changes: an older folder is then refused with a clear line.
FORMAT = 1


class CheckpointError(MmerError, RuntimeError):
    """A checkpoint folder that cannot be resumed (incomplete, altered, another problem's)."""


# --------------------------------------------------------------------------- state


@dataclass
class Plateau:
    """Early stopping and learning-rate reduction on one validation metric (one object, one state).

    ``monitor`` is a key of Keras' logs (``val_accuracy``, ``val_loss``). When it has not
    improved (by more than ``min_delta``) for ``lr_patience`` epochs, the learning rate is
    multiplied by ``factor`` (not below ``min_lr``); after ``patience`` epochs without
    improvement, training stops. The model kept is the best epoch on ``monitor``.
    """

    monitor: str = "val_accuracy"
    patience: int = 20
    lr_patience: int = 5
    factor: float = 0.5
    min_lr: float = 1e-5
    min_delta: float = 0.0

    @property
    def mode(self) -> str:
        return "max" if any(k in self.monitor for k in ("acc", "auc", "f1")) else "min"

    def improved(self, value: float, best: float | None) -> bool:
        if best is None:
            return True
        return value > best + self.min_delta if self.mode == "max" else value < best - self.min_delta


@dataclass
class TrainState:
    """Everything about a training run that is not a weight: saved as ``state.json``."""

    epoch: int = 0                      # finished epochs
    finished: bool = False              # early stopping or the last epoch ended the run
    best: float | None = None           # best value of the monitored metric
    best_epoch: int = 0                 # its epoch (1-based; 0: none yet)
    wait: int = 0                       # epochs since the best one (early stopping)
    lr_wait: int = 0                    # epochs since the best one or the last reduction
    learning_rate: float | None = None
    fit_seconds: float = 0.0            # training time summed over every slice
    slices: int = 0                     # how many calls trained at least one epoch
    history: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)   # role -> [{"name", "sha256", "bytes"}, ...]
    settings: dict = field(default_factory=dict)
    format: int = FORMAT


# --------------------------------------------------------------------------- files


def _write_parts(folder: Path, stem: str, data: bytes) -> list[dict]:
    """Write ``data`` as ``stem`` (or ``stem.000``, ``stem.001``... when larger than PART_BYTES)."""
    chunks = [data[i:i + PART_BYTES] for i in range(0, len(data), PART_BYTES)] or [b""]
    names = [stem] if len(chunks) == 1 else [f"{stem}.{i:03d}" for i in range(len(chunks))]
    out = []
    for name, chunk in zip(names, chunks):
        with atomic_path(folder / name) as tmp:
            tmp.write_bytes(chunk)
        out.append({"name": name, "sha256": hashlib.sha256(chunk).hexdigest(), "bytes": len(chunk)})
    return out


def _read_parts(folder: Path, parts: list[dict]) -> bytes:
    data = []
    for part in parts:
        path = folder / part["name"]
        if not path.is_file():
            raise CheckpointError(f"checkpoint {folder} is incomplete: {part['name']} is missing")
        chunk = path.read_bytes()
        if hashlib.sha256(chunk).hexdigest() != part["sha256"]:
            raise CheckpointError(f"checkpoint {folder}: {part['name']} does not match its SHA-256 "
                                  "(altered or half-copied); delete the folder to start over")
        data.append(chunk)
    return b"".join(data)


def read_state(folder) -> TrainState | None:
    """The :class:`TrainState` saved in ``folder`` (None when there is no checkpoint)."""
    path = Path(folder) / STATE_FILE
    if not path.is_file():
        return None
    raw = json.loads(path.read_text())
    if raw.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {folder} has format {raw.get('format')}, this package reads {FORMAT}; "
                              "delete the folder to start over")
    return TrainState(**raw)


def save_checkpoint(folder, model, state: TrainState, best_weights: list | None) -> Path:
    """Write the model (with optimizer), the best weights and ``state`` to ``folder``.

    The files of epoch ``e`` get new names (``e<epoch>-``), ``state.json`` is replaced
    atomically last, then the files of the previous epoch are deleted: an interruption at
    any point leaves one complete checkpoint.
    """
    import keras

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tag = f"e{state.epoch:04d}"
    with atomic_path(folder / f"{tag}-model.keras", suffix=".keras") as tmp:
        model.save(tmp)
        model_bytes = tmp.read_bytes()
    files = {"model": _write_parts(folder, f"{tag}-model.keras", model_bytes)}
    if best_weights is not None:
        buf = _weights_bytes(best_weights)
        files["best_weights"] = _write_parts(folder, f"{tag}-best.npz", buf)
    state.files = files
    atomic_write_json(folder / STATE_FILE, asdict(state), indent=1)
    keep = {STATE_FILE} | {p["name"] for parts in files.values() for p in parts}
    for path in folder.iterdir():
        if path.is_file() and path.name not in keep and not path.name.startswith("."):
            path.unlink()
    del keras
    return folder


def _weights_bytes(weights: list) -> bytes:
    import io

    buf = io.BytesIO()
    np.savez(buf, *[np.asarray(w) for w in weights])
    return buf.getvalue()


def _weights_from_bytes(data: bytes) -> list:
    import io

    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return [npz[f"arr_{i}"] for i in range(len(npz.files))]


def load_checkpoint(folder, state: TrainState | None = None):
    """``(model, state, best_weights)`` from ``folder`` (every part checked against its SHA-256)."""
    import io
    import tempfile

    import keras

    folder = Path(folder)
    state = state or read_state(folder)
    if state is None:
        raise CheckpointError(f"no checkpoint in {folder}")
    data = _read_parts(folder, state.files["model"])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.keras"
        path.write_bytes(data)
        model = keras.models.load_model(path, safe_mode=True)
    best = _weights_from_bytes(_read_parts(folder, state.files["best_weights"])) \
        if "best_weights" in state.files else None
    del io
    return model, state, best


# --------------------------------------------------------------------------- randomness


def _seed_generators(layer, seen: set):
    """Every ``keras.random.SeedGenerator`` a layer (and its sub-layers) owns."""
    import keras

    if id(layer) in seen:
        return
    seen.add(id(layer))
    for value in vars(layer).values():
        if isinstance(value, keras.random.SeedGenerator):
            yield value
    for sub in getattr(layer, "layers", []) or []:
        yield from _seed_generators(sub, seen)


def reseed_random_layers(model, seed: int, epoch: int) -> int:
    """Set the state of every random layer (augmentation, dropout) from ``(seed, epoch)``.

    Keras' random layers draw from a counter-based generator whose state is a variable;
    setting it at the start of each epoch makes the epoch's draws a function of the
    epoch alone, so a resumed run repeats them. Returns the number of generators set.
    """
    n = 0
    for i, gen in enumerate(_seed_generators(model, set())):
        state = np.array([(seed * 1_000_003 + i) % 2**31, epoch * 2**20], dtype=np.int64)
        gen.state.assign(state.astype(gen.state.dtype))
        n += 1
    return n


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The order in which epoch ``epoch`` visits ``n`` training examples (a pure function)."""
    return np.random.default_rng([seed, epoch]).permutation(n)


# --------------------------------------------------------------------------- signals


@contextmanager
def stop_on_signal():
    """Within the block, SIGINT and SIGTERM set ``flag["stop"]`` instead of killing the process."""
    flag = {"stop": False, "signal": None}
    previous = {}

    def handler(signum, frame):
        flag["stop"], flag["signal"] = True, signal.Signals(signum).name

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, handler)
        except ValueError:  # not the main thread: signals stay as they are
            pass
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# --------------------------------------------------------------------------- training


@dataclass
class SliceResult:
    """What :func:`fit_in_slices` returns: the model at its best epoch and the run's state."""

    model: object
    state: TrainState
    stopped_by: str | None = None   # "SIGTERM", "SIGINT", "max_minutes", or None (trained to the end)

    @property
    def history(self) -> dict:
        return self.state.history


def fit_in_slices(build: Callable, train, validation, *, folder, epochs: int, batch_size: int = 64,
                  optimizer: Callable | None = None, loss="sparse_categorical_crossentropy",
                  plateau: Plateau | None = None, class_weight: dict | None = None, seed: int = 42,
                  max_minutes: float | None = None, settings: dict | None = None, verbose: int = 2,
                  on_epoch: Callable | None = None) -> SliceResult:
    """Train ``build()`` on ``train = (X, y)``, resuming from ``folder`` when it holds a checkpoint.

    Parameters
    ----------
    build : callable
        ``build() -> keras.Model`` (uncompiled, softmax output).
    train, validation : tuple of arrays ``(X, y)``
        ``y`` integer class ids. ``validation`` drives :class:`Plateau`.
    folder : path
        The checkpoint folder (created). A folder written with other ``settings`` is refused.
    epochs : int
        The last epoch. Raising it continues a finished run (unless early stopping ended it).
    optimizer : callable
        ``optimizer() -> keras.optimizers.Optimizer`` (default: Adam(1e-3)).
    plateau : Plateau
        Early stopping and learning-rate reduction (default :class:`Plateau`).
    max_minutes : float or None
        Stop before an epoch that would end past this budget (a slice); the checkpoint stays.
    settings : dict
        JSON description of the run (architecture, recipe); stored, and compared on resume.
    on_epoch : callable
        ``on_epoch(state)`` after each saved epoch (progress reports).

    Returns
    -------
    SliceResult
        ``model`` holds the best epoch's weights; ``state.finished`` says whether the
        run is over.
    """
    import keras

    plateau = plateau or Plateau()
    folder = Path(folder)
    settings = json.loads(json.dumps(settings or {}, default=str))
    X, y = np.asarray(train[0]), np.asarray(train[1])
    val = (np.asarray(validation[0]), np.asarray(validation[1]))
    n_batches = len(X) // batch_size
    if n_batches < 1:
        raise ValueError(f"{len(X)} training examples cannot fill one batch of {batch_size}")

    state = read_state(folder)
    if state is not None and state.settings != settings:
        raise CheckpointError(f"checkpoint {folder} was written by another run (settings differ); "
                              "use another folder or delete this one")
    if state is not None:
        model, state, best_weights = load_checkpoint(folder, state)
    else:
        keras.utils.set_random_seed(seed)
        model = build()
        model.compile(optimizer=(optimizer or (lambda: keras.optimizers.Adam(1e-3)))(), loss=loss,
                      metrics=["accuracy"])
        state, best_weights = TrainState(settings=settings), None
        state.learning_rate = float(np.asarray(model.optimizer.learning_rate))

    if state.finished and state.epoch < epochs and state.wait < plateau.patience:
        state.finished = False  # a run that reached its last epoch continues when epochs grows
    stopped_by = None
    start_slice = time.perf_counter()
    trained_any = False
    with stop_on_signal() as flag:
        stop_batch = keras.callbacks.LambdaCallback(
            on_train_batch_end=lambda batch, logs: setattr(model, "stop_training", True) if flag["stop"] else None)
        while not state.finished and state.epoch < epochs:
            if flag["stop"]:
                stopped_by = flag["signal"]
                break
            per_epoch = state.fit_seconds / max(state.epoch, 1) if state.epoch else 0.0
            if max_minutes is not None and time.perf_counter() - start_slice + per_epoch > 60 * max_minutes:
                stopped_by = "max_minutes"
                break
            e = state.epoch
            order = epoch_order(len(X), seed, e)[: n_batches * batch_size]   # complete batches only
            reseed_random_layers(model, seed, e)
            model.optimizer.learning_rate.assign(state.learning_rate)
            t0 = time.perf_counter()
            hist = model.fit(X[order], y[order], batch_size=batch_size, epochs=e + 1, initial_epoch=e,
                             shuffle=False, validation_data=val, class_weight=class_weight,
                             callbacks=[stop_batch], verbose=verbose)
            if flag["stop"]:  # interrupted inside the epoch: the last checkpoint stays the truth
                stopped_by = flag["signal"]
                break
            trained_any = True
            logs = {k: float(v[-1]) for k, v in hist.history.items()}
            state.fit_seconds += time.perf_counter() - t0
            state.epoch = e + 1
            logs["learning_rate"] = state.learning_rate
            for k, v in logs.items():
                state.history.setdefault(k, []).append(v)
            value = logs[plateau.monitor]
            if plateau.improved(value, state.best):
                state.best, state.best_epoch, state.wait, state.lr_wait = value, e + 1, 0, 0
                best_weights = [np.array(w) for w in model.get_weights()]
            else:
                state.wait += 1
                state.lr_wait += 1
                if state.lr_wait >= plateau.lr_patience and state.learning_rate > plateau.min_lr:
                    state.learning_rate = max(plateau.min_lr, state.learning_rate * plateau.factor)
                    state.lr_wait = 0
            state.finished = state.wait >= plateau.patience or state.epoch >= epochs
            if state.finished or not flag["stop"]:
                save_checkpoint(folder, model, state, best_weights)
            if on_epoch is not None:
                on_epoch(state)
    if trained_any:
        state.slices += 1
        atomic_write_json(folder / STATE_FILE, asdict(state), indent=1)
    if best_weights is not None:
        model.set_weights(best_weights)
    return SliceResult(model=model, state=state, stopped_by=stopped_by)
