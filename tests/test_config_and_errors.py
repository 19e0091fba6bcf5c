import os
import subprocess
import sys

import pytest

from mmer_utils import config
from mmer_utils.errors import DataNotFoundError, DataLayoutError


def test_data_root_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MMER_DATA_DIR", str(tmp_path))
    assert config.data_root() == tmp_path.resolve()
    monkeypatch.setenv("MMER_DATA_DIR", str(tmp_path / "nope"))
    with pytest.raises(DataNotFoundError, match="MMER_DATA_DIR"):
        config.data_root()
    monkeypatch.delenv("MMER_DATA_DIR")
    assert config.data_root(must_exist=False).name == "data"


def test_missing_dataset_is_one_actionable_line(isolated_root):
    from mmer_utils import datasets

    for name, hint in [("ravdess", "fetch ravdess"), ("fer2013", "kaggle"), ("essays", "essays.csv"),
                       ("meld", "fetch meld"), ("emotion", "fetch emotion")]:
        with pytest.raises(DataNotFoundError) as info:
            datasets.loader_for(name)()
        message = str(info.value)
        assert "\n" not in message and hint in message and str(isolated_root) in message


def test_wrong_layout_says_what_was_expected(isolated_root):
    from mmer_utils import datasets

    (isolated_root / "ravdess" / "somewhere").mkdir(parents=True)
    with pytest.raises(DataLayoutError, match="Actor_XX"):
        datasets.load_ravdess()
    (isolated_root / "meld").mkdir()
    with pytest.raises(DataLayoutError, match="train_sent_emo.csv"):
        datasets.load_meld()


def _tiny_keras_weights(seed: int) -> list:
    """Weights of a tiny network built and trained (dropout, shuffled batches) after ``set_seed(seed)``."""
    import keras
    import numpy as np

    data = np.random.default_rng(0)  # the same data whatever the seed: only Keras' own draws may differ
    X, y = data.normal(size=(64, 4)).astype("float32"), data.integers(0, 2, 64)
    config.set_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dropout(0.5), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(X, y, epochs=2, batch_size=8, shuffle=True, verbose=0)
    return model.get_weights()


def test_seed_makes_numpy_and_keras_repeatable():
    import random

    import numpy as np

    config.set_seed(3)
    a, r = np.random.rand(3), random.random()
    config.set_seed(3)
    assert (np.random.rand(3) == a).all() and random.random() == r
    config.set_seed(4)
    assert not (np.random.rand(3) == a).any()

    pytest.importorskip("keras")
    first, again, other = _tiny_keras_weights(3), _tiny_keras_weights(3), _tiny_keras_weights(4)
    assert len(first) == len(again) == 4
    for w1, w2 in zip(first, again):  # same seed: the same initial weights, dropout masks and batch order
        np.testing.assert_array_equal(w1, w2)
    assert not np.allclose(first[0], other[0])  # another seed: other weights (so this test can fail)


def test_cli_prints_one_line_not_a_traceback(isolated_root):
    out = subprocess.run([sys.executable, "-m", "mmer_utils.datasets", "verify", "meld"],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().count("\n") == 0 and "fetch meld" in out.stderr


def test_notebook_shows_mmer_errors_as_one_line():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        assert config.short_errors_in_notebooks()
        result = shell.run_cell("from mmer_utils.errors import DataNotFoundError\nraise DataNotFoundError('x missing: run fetch x')")
        assert isinstance(result.error_in_exec, DataNotFoundError)  # the cell still fails
    finally:
        InteractiveShell.clear_instance()


def test_importing_the_package_changes_nothing(isolated_root):
    (isolated_root / "nltk_data").mkdir()
    code = ("import os, sys\nimport mmer_utils, mmer_utils.datasets, mmer_utils.text.preprocess\n"
            "print(os.environ.get('NLTK_DATA'), 'IPython' in sys.modules, 'nltk' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != "NLTK_DATA"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["None", "False", "False"]
    assert config.setup_nltk() == isolated_root / "nltk_data"  # the explicit call does it


def test_setup_notebook_installs_one_line_errors_nltk_and_the_needs_magic(isolated_root, capsys):
    from IPython.core.interactiveshell import InteractiveShell

    import mmer_utils

    (isolated_root / "meld").mkdir()
    shell = InteractiveShell.instance()
    try:
        assert mmer_utils.setup_notebook() is None
        assert "needs" in shell.magics_manager.magics["cell"]
        assert shell.custom_exceptions  # MmerError is shown as one line
        capsys.readouterr()
        shell.run_cell("%%needs essays\nran = 'essays'")
        assert "ran" not in shell.user_ns
        assert "skipped: this cell needs essays" in capsys.readouterr().out
        result = shell.run_cell("%%needs meld\nx = 2\nx * 21")  # present: runs, and shows its last value
        assert shell.user_ns["x"] == 2 and result.result == 42
        result = shell.run_cell("%%needs meld\n1 / 0")  # an error inside still fails the cell
        assert isinstance(result.error_in_exec, ZeroDivisionError)
        result = shell.run_cell("%%needs no_such_set\n1")
        assert isinstance(result.error_in_exec, ValueError)  # a typo is an error, not a silent skip
    finally:
        InteractiveShell.clear_instance()


def test_batch_runs_turn_the_notebook_progress_bars_off(monkeypatch):
    import tqdm.auto
    import tqdm.autonotebook

    from mmer_utils import course

    monkeypatch.setattr(tqdm.auto, "tqdm", tqdm.auto.tqdm)  # restored after the test
    monkeypatch.setattr(tqdm.autonotebook, "tqdm", tqdm.autonotebook.tqdm)
    assert course.BATCH_ENV == {"TQDM_DISABLE": "1"}  # what the runner gives its kernels
    config.progress_bars_off()
    from tqdm.auto import tqdm as bar

    assert bar(range(3)).disable and bar(range(3), disable=False).disable


@pytest.mark.parametrize("before", [None, "elsewhere"])
def test_cache_dir_override_restores_what_was_there(tmp_path, monkeypatch, before):
    if before is None:
        monkeypatch.delenv(config.CACHE_ENV, raising=False)
    else:
        monkeypatch.setenv(config.CACHE_ENV, str(tmp_path / before))
    with config.cache_dir_override(tmp_path / "inner") as folder:
        assert config.cache_dir("x") == tmp_path / "inner" / "x" and folder == tmp_path / "inner"
    assert os.environ.get(config.CACHE_ENV) == (None if before is None else str(tmp_path / before))
    with pytest.raises(RuntimeError), config.cache_dir_override(tmp_path / "inner"):
        raise RuntimeError("restored on an error too")
    assert os.environ.get(config.CACHE_ENV) == (None if before is None else str(tmp_path / before))
