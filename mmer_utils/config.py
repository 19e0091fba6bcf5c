"""Where the data lives, where caches go, and how runs are seeded.

One environment variable, ``MMER_DATA_DIR``, points at the data root; without
it the course uses ``data/`` at the root of the repository (or of the current
folder when the package is installed from PyPI).

>>> from mmer_utils import config
>>> root = config.data_root(must_exist=False)
>>> root.name in {"data", "shared"} or root.is_absolute()
True
"""

from __future__ import annotations

import ast
import os
import random
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import DataNotFoundError

#: Environment variable that points at the data root.
DATA_ENV = "MMER_DATA_DIR"
#: Environment variable that points at the cache folder (features, trained models).
CACHE_ENV = "MMER_CACHE_DIR"
#: Seed used by every notebook and benchmark unless told otherwise.
DEFAULT_SEED = 42


def repo_root() -> Path | None:
    """Return the repository folder when the package runs from a checkout, else None."""
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").is_file() and (here / "mmer_utils").is_dir():
        return here
    return None


def data_root(*, must_exist: bool = True) -> Path:
    """Return the data root: ``$MMER_DATA_DIR``, else ``data/`` in the repository.

    Parameters
    ----------
    must_exist : bool
        Raise :class:`~mmer_utils.errors.DataNotFoundError` with a one-line fix
        when the folder does not exist.
    """
    env = os.environ.get(DATA_ENV)
    if env:
        root = Path(env).expanduser().resolve()
    else:
        base = repo_root() or Path.cwd()
        root = (base / "data").resolve()
    if must_exist and not root.is_dir():
        raise DataNotFoundError(
            f"data root {root} does not exist: create it and fetch a data set "
            f"(python -m mmer_utils.datasets fetch NAME), or set {DATA_ENV} to the folder that holds your data"
        )
    return root


def cache_dir(*parts: str) -> Path:
    """Return (and create) a folder for caches: ``$MMER_CACHE_DIR`` or ``<repo>/build/cache``.

    Caches hold derived files (features, trained models); they are never committed.
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        base = Path(env).expanduser()
    else:
        base = (repo_root() or Path.cwd()) / "build" / "cache"
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def cache_dir_override(path) -> Iterator[Path]:
    """Within the ``with`` block, :func:`cache_dir` is under ``path`` (``$MMER_CACHE_DIR`` is set);
    afterwards it is what it was, set or not.

    For runs that must not read or fill the user's cache (a benchmark's app, a test's).

    Parameters
    ----------
    path : str or Path
        The cache folder of the block.

    Returns
    -------
    context manager yielding Path

    >>> import tempfile
    >>> with cache_dir_override(tempfile.mkdtemp()) as folder:
    ...     cache_dir("demo").parent == folder
    True
    """
    saved = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = str(path)
    try:
        yield Path(path)
    finally:
        if saved is None:
            os.environ.pop(CACHE_ENV, None)
        else:
            os.environ[CACHE_ENV] = saved


def setup_nltk(root: Path | None = None) -> Path | None:
    """Point NLTK at ``<data root>/nltk_data`` when that folder exists; return it.

    Called by :func:`setup_notebook` and by the command-line tools that clean text (never on
    import). Nothing is downloaded, and NLTK is not imported here: ``NLTK_DATA`` is set for a later import, and an already
    imported NLTK gets the folder at the front of ``nltk.data.path``.
    """
    try:
        root = root or data_root()
    except DataNotFoundError:
        return None
    nltk_dir = root / "nltk_data"
    if not nltk_dir.is_dir():
        return None
    current = os.environ.get("NLTK_DATA", "")
    if str(nltk_dir) not in current.split(os.pathsep):
        os.environ["NLTK_DATA"] = os.pathsep.join(p for p in (str(nltk_dir), current) if p)
    if "nltk" in sys.modules:
        paths = sys.modules["nltk"].data.path
        if str(nltk_dir) not in paths:
            paths.insert(0, str(nltk_dir))
    return nltk_dir


def set_seed(seed: int = DEFAULT_SEED) -> int:
    """Seed Python, NumPy and (when imported) TensorFlow/Keras; return the seed.

    Deep models on a CPU are then repeatable run to run on the same machine;
    across machines small differences remain (thread scheduling, BLAS).
    """
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    import numpy as np

    np.random.seed(seed)
    if "keras" in sys.modules or "tensorflow" in sys.modules:
        import keras

        keras.utils.set_random_seed(seed)
    return seed


def in_colab() -> bool:
    """True when running inside Google Colab."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def _ipython_shell():
    """The running IPython shell, or None (no IPython, or a plain Python process)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def short_errors_in_notebooks() -> bool:
    """Show :class:`~mmer_utils.errors.MmerError` in IPython as one line, not a traceback.

    Called by :func:`setup_notebook`; returns True when a shell was found.
    The error still stops the cell (papermill and CI see the failure).
    """
    shell = _ipython_shell()
    if shell is None:
        return False
    from .errors import MmerError

    def _one_line(self, etype, value, tb, tb_offset=None):
        # A one-line "traceback": the kernel still reports an error (name and message)
        # to Jupyter and papermill, without the frames of the package.
        stb = [f"{etype.__name__}: {value}"]
        self._showtraceback(etype, value, stb)
        return stb

    shell.set_custom_exc((MmerError,), _one_line)
    return True


_TOLD: set = set()  # data sets whose "how to get it" a skipped cell has already printed


def register_needs_magic() -> bool:
    """Register the cell magic ``%%needs NAME [NAME ...]`` in IPython; True when a shell was found.

    A cell that starts with ``%%needs essays`` runs as usual when the data set is there
    (:func:`mmer_utils.datasets.available`, which also fetches it in Colab when it has a public
    source); otherwise it prints one line and is skipped. Errors inside the cell are raised as
    usual (papermill sees them), and the value of its last line is shown as a cell's would be.
    """
    shell = _ipython_shell()
    if shell is None:
        return False

    def needs(line, cell):
        from .datasets import available, get_spec

        names = [get_spec(n).name for n in line.split()]
        missing = [n for n in names if not available(n, quiet=True)]
        if missing:
            how = "".join(f"; {n}: {get_spec(n).how_to_get}" for n in missing if n not in _TOLD)
            _TOLD.update(missing)
            print(f"skipped: this cell needs {', '.join(missing)}" + (how or " (how to get it: the first skipped cell)"))
            return None
        tree = ast.parse(cell)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        namespace = shell.user_ns
        exec(compile(tree, "<cell>", "exec"), namespace)
        if last is not None:
            return eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace)
        return None

    shell.register_magic_function(needs, magic_kind="cell", magic_name="needs")
    return True


def setup_notebook() -> None:
    """What a course notebook's setup cell calls.

    Importing :mod:`mmer_utils` changes nothing; this call, explicitly, (1) shows the package's
    errors as one line in IPython (:func:`short_errors_in_notebooks`), (2) points NLTK at
    ``<data root>/nltk_data`` (:func:`setup_nltk`), (3) registers the cell magic ``%%needs``
    (:func:`register_needs_magic`) with which a notebook skips the cells whose data set is
    missing and (4) keeps TensorFlow's C++ log lines off the page (:func:`quiet_tensorflow_logs`).
    Outside IPython only (2) and (4) apply. Returns None, so that the setup cell shows nothing.

    >>> setup_notebook()
    """
    setup_nltk()
    short_errors_in_notebooks()
    register_needs_magic()
    quiet_tensorflow_logs()
    if os.environ.get("TQDM_DISABLE"):  # set by the course runner: a saved widget bar would read "0%"
        progress_bars_off()


def quiet_tensorflow_logs() -> None:
    """Keep TensorFlow's C++ log lines (oneDNN, CUDA drivers absent, cuInit...) out of this process's output.

    A notebook kernel shows what the process writes to its standard error, so these lines
    land under the first cell that imports Keras. This sets ``TF_CPP_MIN_LOG_LEVEL=3`` (TensorFlow
    then logs nothing below a fatal error, also later ones such as "oneDNN supports DT_BOOL only
    with AVX-512") and, because TensorFlow 2.21 prints its start-up lines whatever that variable
    says, runs the first ``import tensorflow`` (wherever it happens: ``import keras``, a package
    module) with file descriptor 2 pointed at ``/dev/null``. TensorFlow is not imported here: a
    notebook without it pays nothing. Python's errors and warnings are not affected. Nothing is
    hooked when TensorFlow is already imported. To see the lines again, set
    ``os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"`` after this call and before TensorFlow's import.

    >>> quiet_tensorflow_logs()
    >>> os.environ["TF_CPP_MIN_LOG_LEVEL"]
    '3'
    """
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietTensorFlowImport) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietTensorFlowImport())


@contextmanager
def _native_stderr_off() -> Iterator[None]:
    """File descriptor 2 (where C++ code writes) to /dev/null for the block; Python's ``sys.stderr`` object stays."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _QuietTensorFlowImport:
    """An import hook (``sys.meta_path``) that runs the first import of ``tensorflow`` in :func:`_native_stderr_off`."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: the next import finds the module already loaded
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find else None
            if spec is not None:
                break
        else:
            return None  # not installed: the import fails as it would have
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            run = spec.loader.exec_module

            def quiet_exec_module(module):
                with _native_stderr_off():
                    run(module)

            spec.loader.exec_module = quiet_exec_module  # this module's own loader object: nothing else changes
        return spec


def progress_bars_off() -> None:
    """Make ``tqdm.auto.tqdm`` a disabled text bar in this process (for batch runs of notebooks).

    ``$TQDM_DISABLE`` turns off tqdm's text bars, but not the notebook widget that ``tqdm.auto``
    picks inside a kernel; the package's code imports ``tqdm.auto`` when it draws a bar, so
    replacing it here covers every later bar.
    """
    import tqdm.auto
    import tqdm.autonotebook
    import tqdm.std

    class _Off(tqdm.std.tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    tqdm.auto.tqdm = tqdm.autonotebook.tqdm = _Off


def import_tensorflow_quietly() -> None:
    """Import TensorFlow and Keras with their native start-up lines hidden.

    TensorFlow 2.21 prints half a dozen C++ log lines on import and at its first operation
    (oneDNN, CUDA drivers absent, CPU instructions), whatever ``TF_CPP_MIN_LOG_LEVEL`` says:
    noise before a command-line tool's first answer. This imports both with the process's
    standard error (file descriptor 2) pointed at ``/dev/null`` for the duration, and runs
    one tiny operation so the device start-up lines are swallowed too. Python exceptions
    are not affected (they are raised, then printed after). Nothing happens when
    TensorFlow is already imported. The command-line tools call it first; a notebook's
    setup cell may too.
    """
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import keras  # noqa: F401
        import tensorflow as tf

        tf.zeros((1,)) + 1  # the first operation starts the (CPU) device: its lines go too
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
