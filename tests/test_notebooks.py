"""Every notebook: committed clean, built like the template, and executed end to end with papermill."""

import json
import math
import os
import re
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from conftest import REPO, real_dataset
from mmer_utils import course, results
from mmer_utils.datasets import DATASETS
from mmer_utils.video.assets import ASSETS

ALL_NOTEBOOKS = sorted((REPO / "notebooks").rglob("*.ipynb"))
RUN = course.list_notebooks(REPO / "notebooks") + [REPO / "notebooks" / "_template.ipynb"]


def _id(path):
    return str(path.relative_to(REPO / "notebooks"))


def test_notebooks_are_found_in_numbered_order():
    names = [_id(p) for p in course.list_notebooks(REPO / "notebooks")]
    assert names[0] == "00_setup.ipynb" and names == sorted(names)
    assert "_template.ipynb" not in names


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=_id)
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    dirty = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"{_id(path)}: cells {dirty} have outputs; clear them (executed copies belong in build/)"


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=_id)
def test_built_like_the_template(path):
    nb = nbformat.read(path, as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    assert "colab.research.google.com" in first.source and "objectives" in first.source.lower()
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and "QUICK = True" in tagged[0].source
    assert any('"google.colab" in sys.modules' in c.source for c in nb.cells if c.cell_type == "code")
    headings = [c.source.splitlines()[0] for c in nb.cells if c.cell_type == "markdown"]
    assert "## Summary" in headings and "## Exercises" in headings
    assert set(nb.metadata.get("mmer", {}).get("requires", [])) <= set(DATASETS) | set(ASSETS)
    assert set(nb.metadata.get("mmer", {}).get("uses", [])) <= set(DATASETS)  # optional: cells with %%needs
    setup = next(c for c in nb.cells if c.cell_type == "code")
    assert "mmer_utils.setup_notebook()" in setup.source  # importing the package sets nothing up by itself


def cell_errors(executed) -> list[str]:
    """``"cell N: Ename: evalue"`` for every output of type "error" in an executed notebook."""
    return [f"cell {i}: {o.get('ename')}: {o.get('evalue')}" for i, c in enumerate(executed.cells)
            if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]


# a C++ log line of TensorFlow (absl/glog: "I0000 00:00:1796245287.49 8308 port.cc:153] oneDNN ..."), or absl's banner
NATIVE_LOG = re.compile(r"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.-]+:\d+\]|WARNING: All log messages before absl)", re.M)


def native_log_lines(executed) -> list[str]:
    """``"cell N: line"`` for every TensorFlow C++ log line in the standard-error outputs of an executed notebook
    (:func:`mmer_utils.config.setup_notebook` keeps them off the page)."""
    return [f"cell {i}: {line}" for i, c in enumerate(executed.cells) if c.cell_type == "code"
            for o in c.get("outputs", []) if o.get("output_type") == "stream" and o.get("name") == "stderr"
            for line in "".join(o.get("text", "")).splitlines() if NATIVE_LOG.match(line)]


def skipped(cell) -> bool:
    """True for a ``%%needs`` cell that printed that its data set is missing (and ran nothing)."""
    return any(o.get("output_type") == "stream" and "".join(o.get("text", "")).startswith("skipped: this cell needs")
               for o in cell.get("outputs", []))


def records_metrics(notebook) -> bool:
    """True when a code cell of the notebook that ran calls ``record_metric``: it must then record something."""
    return any("record_metric(" in "".join(c.source) for c in notebook.cells if c.cell_type == "code" and not skipped(c))


def metric_problems(notebook, rel: str, metrics_dir) -> list[str]:
    """What is wrong with the metrics a notebook recorded under ``metrics_dir`` (see
    :func:`mmer_utils.results.record_metric`): none although it calls ``record_metric``, one
    recorded under another notebook's name, or a value that is not a finite number."""
    recs = results.load_metrics(metrics_dir)
    problems = []
    if records_metrics(notebook) and not recs:
        problems.append(f"{rel} calls record_metric but recorded no metric in {metrics_dir}")
    for r in recs:
        name = f"{r.get('model')} / {r.get('metric')}"
        if r.get("notebook") != rel:
            problems.append(f"{name}: recorded for notebook {r.get('notebook')!r}, not {rel!r}")
        value = r.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            problems.append(f"{name}: value {value!r} is not a finite number")
    return problems


@pytest.mark.notebooks
@pytest.mark.parametrize("path", RUN, ids=_id)
def test_notebook_runs_end_to_end_in_quick_mode(path, tmp_path, monkeypatch):
    for name in course.required_data(path):
        real_dataset(name)
    rel = _id(path)
    metrics = tmp_path / "metrics"
    monkeypatch.setenv(results.METRICS_ENV, str(metrics))  # the kernel inherits both: its metrics land here,
    monkeypatch.setenv(results.NOTEBOOK_ENV, rel)  # under this notebook's name (as the course runner does)
    out = REPO / "build" / "notebooks" / path.relative_to(REPO / "notebooks")
    course.run_notebook(path, out, quick=True)
    executed = nbformat.read(out, as_version=4)
    assert any(c.get("outputs") for c in executed.cells if c.cell_type == "code")
    assert not cell_errors(executed), f"{rel}: cells with errors: {cell_errors(executed)}"
    assert not native_log_lines(executed), f"{rel}: TensorFlow's C++ log lines on the page: {native_log_lines(executed)}"
    problems = metric_problems(executed, rel, metrics)
    assert not problems, f"{rel}: {problems}"


WITHOUT_ESSAYS = [p for p in RUN if "essays" in json.loads(p.read_text()).get("metadata", {}).get("mmer", {}).get("uses", [])]


@pytest.mark.notebooks
@pytest.mark.parametrize("path", WITHOUT_ESSAYS, ids=_id)
def test_notebook_runs_without_the_essays(path, tmp_path, monkeypatch):
    """The essays cannot be downloaded: a notebook that only uses them runs to the end without them,
    skipping their cells with one line that says how to get them."""
    from mmer_utils import config

    real = config.data_root(must_exist=False)
    root = tmp_path / "data"  # every data set of the real root, except the essays
    root.mkdir()
    for entry in real.iterdir() if real.is_dir() else []:
        if entry.name != "essays":
            (root / entry.name).symlink_to(entry.resolve())
    monkeypatch.setenv(config.DATA_ENV, str(root))
    for name in course.required_data(path):
        real_dataset(name)
    rel = _id(path)
    monkeypatch.setenv(results.METRICS_ENV, str(tmp_path / "metrics"))
    monkeypatch.setenv(results.NOTEBOOK_ENV, rel)
    out = tmp_path / "executed.ipynb"
    course.run_notebook(path, out, quick=True)
    executed = nbformat.read(out, as_version=4)
    assert not cell_errors(executed), f"{rel}: cells with errors: {cell_errors(executed)}"
    told = [c for c in executed.cells if c.cell_type == "code" and skipped(c)]
    how = [c for c in executed.cells for o in c.get("outputs", []) if "essays" in "".join(o.get("text", ""))
           and "WCPR 2013" in "".join(o.get("text", ""))]
    assert how, f"{rel}: no line says how to get the essays"
    # one line per skipped cell, however the kernel split it into stream messages (under load a print's text
    # and its newline can arrive as two outputs)
    said = {i: "".join("".join(o.get("text", "")) for o in c.outputs) for i, c in enumerate(told)}
    assert all(len(text.strip().splitlines()) == 1 for text in said.values()), said
    assert not metric_problems(executed, rel, tmp_path / "metrics")


def _executed(*cells):
    """A notebook as papermill leaves it: code cells with their outputs."""
    nb = new_notebook()
    for source, outputs in cells:
        cell = new_code_cell(source, execution_count=len(nb.cells) + 1)
        cell.outputs = outputs
        nb.cells.append(cell)
    return nbformat.reads(nbformat.writes(nb), as_version=4)  # through JSON, as read back from disk


def test_cell_errors_are_found_in_an_executed_notebook():
    ok = _executed(("x = 1", []), ("print(x)", [new_output("stream", name="stdout", text="1\n")]),
                   ("x", [new_output("execute_result", data={"text/plain": "1"}, execution_count=3)]))
    assert cell_errors(ok) == []
    broken = _executed(("x = 1", []), ("1 / 0", [
        new_output("stream", name="stdout", text="before\n"),
        new_output("error", ename="ZeroDivisionError", evalue="division by zero", traceback=["..."])]))
    assert cell_errors(broken) == ["cell 1: ZeroDivisionError: division by zero"]


def test_native_log_lines_are_found_in_stderr_outputs():
    tf_start = ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
                "I0000 00:00:1796245287.492462    8308 port.cc:153] oneDNN custom operations are on.\n")
    noisy = _executed(("import keras", [new_output("stream", name="stderr", text=tf_start)]),
                      ("fit()", [new_output("stream", name="stderr", text="E0000 00:00:1796247611.246201   27765 "
                                            "util.cc:131] oneDNN supports DT_BOOL only on platforms with AVX-512.\n")]))
    assert [line.split(":")[0] for line in native_log_lines(noisy)] == ["cell 0", "cell 0", "cell 1"]
    clean = _executed(("print(1)", [new_output("stream", name="stdout", text="I0000 00:00:1.0 1 a.cc:1] in stdout\n")]),
                      ("warn()", [new_output("stream", name="stderr", text="UserWarning: E0000 is not at the start\n")]))
    assert native_log_lines(clean) == []


def test_setup_notebook_keeps_tensorflow_start_up_lines_off_stderr(tmp_path):
    """The first TensorFlow import after setup_notebook (here through keras), then a first operation: no C++ lines."""
    code = ("import mmer_utils; mmer_utils.setup_notebook()\n"
            "import keras, tensorflow as tf\n"
            "tf.reduce_any(tf.constant([True, False])); print(float(tf.reduce_sum(tf.zeros((2,)) + 1)))\n"
            "import sys; print('python stderr', file=sys.stderr)\n")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "2.0"
    assert not NATIVE_LOG.search(out.stderr), out.stderr
    assert "python stderr" in out.stderr  # the process's standard error works again after the import


def test_metric_problems_need_finite_metrics_from_notebooks_that_record_them(tmp_path, monkeypatch):
    rel = "02_audio/02_features_and_svm.ipynb"
    records = _executed(("from mmer_utils.results import record_metric\nrecord_metric('svm', 'p', 'accuracy', acc)", []))
    quiet = _executed(("print('no metrics here')", []))
    empty = tmp_path / "empty"
    assert metric_problems(records, rel, empty) == [f"{rel} calls record_metric but recorded no metric in {empty}"]
    assert metric_problems(quiet, rel, empty) == []
    monkeypatch.setenv(results.METRICS_ENV, str(tmp_path / "good"))
    results.record_metric("svm", "p", "accuracy", 0.61, notebook=rel)
    results.record_metric("svm", "p", "uar", 0.58, notebook=rel)
    assert metric_problems(records, rel, tmp_path / "good") == []
    monkeypatch.setenv(results.METRICS_ENV, str(tmp_path / "bad"))
    results.record_metric("svm", "p", "accuracy", float("nan"), notebook=rel)
    results.record_metric("svm", "p", "uar", float("inf"), notebook=rel)
    results.record_metric("cnn", "p", "accuracy", 0.5, notebook="interactive")
    problems = metric_problems(records, rel, tmp_path / "bad")
    assert len(problems) == 3, problems
    assert "svm / accuracy: value nan is not a finite number" in problems
    assert "svm / uar: value inf is not a finite number" in problems
    assert f"cnn / accuracy: recorded for notebook 'interactive', not {rel!r}" in problems


def _write(path, cells, requires=()):
    nb = new_notebook(cells=cells)
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                   "mmer": {"requires": list(requires)}}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def test_a_failing_cell_is_named(tmp_path):
    params = new_code_cell("QUICK = True")
    params.metadata["tags"] = ["parameters"]
    nb = _write(tmp_path / "01_broken.ipynb", [params, new_code_cell("x = 1"), new_code_cell("raise ValueError('boom')")])
    with pytest.raises(course.NotebookFailed) as info:
        course.run_notebook(nb, tmp_path / "out.ipynb")
    message = str(info.value)
    assert "01_broken.ipynb" in message and "cell 3" in message and "ValueError: boom" in message
    # the package's own errors show as one line in the notebook and still name the error
    nb = _write(tmp_path / "02_missing.ipynb", [params, new_code_cell(
        "import mmer_utils\nmmer_utils.setup_notebook()\nfrom mmer_utils.errors import DataNotFoundError\nraise DataNotFoundError('meld missing: run fetch meld')")])
    with pytest.raises(course.NotebookFailed, match="DataNotFoundError: meld missing: run fetch meld"):
        course.run_notebook(nb, tmp_path / "out2.ipynb")
    error = [o for c in nbformat.read(tmp_path / "out2.ipynb", as_version=4).cells for o in c.get("outputs", [])
             if o.output_type == "error"]
    assert error and error[0].traceback == ["DataNotFoundError: meld missing: run fetch meld"]


def test_runner_passes_quick_skips_missing_data_and_tabulates_metrics(tmp_path, isolated_root):
    params = new_code_cell("QUICK = True\nEPOCHS = 1")
    params.metadata["tags"] = ["parameters"]
    ok = _write(tmp_path / "nb" / "01_ok.ipynb", [params, new_code_cell(
        "from mmer_utils import results\nresults.record_metric('m', 'p', 'accuracy', 0.5 if QUICK else 0.9, notebook='01_ok.ipynb')")])
    skipped = _write(tmp_path / "nb" / "02_needs_meld.ipynb", [new_code_cell("1/0")], requires=["meld"])
    res = course.run_course(quick=False, out_dir=tmp_path / "build", notebooks=[ok, skipped])
    assert [r.status for r in res] == ["ok", "skipped"]
    assert "fetch meld" in res[1].message
    table = course.results_table(res, course.load_metrics(tmp_path / "build" / "metrics"))
    assert "01_ok.ipynb" in table and "90.0 %" in table and "skipped" in table
    strict = course.run_course(quick=True, strict=True, out_dir=tmp_path / "build", notebooks=[skipped])
    assert strict[0].status == "failed"


@pytest.mark.notebooks
@pytest.mark.parametrize("path", sorted((REPO / "notebooks" / "01_text").glob("*.ipynb")), ids=_id)
def test_text_notebook_runs_with_only_meld_dair_ai_and_ravdess(path, tmp_path, monkeypatch):
    """What a student can download: with only MELD, dair-ai emotion and RAVDESS under the data root (no essays, no
    NLTK data), every text notebook runs to the end; the cleaning says in one line what stands in for NLTK's data."""
    import os

    import nltk

    from mmer_utils import config
    from mmer_utils.datasets import get_spec

    STUDENT_DATA = {"meld": "meld", "emotion": "emotion", "ravdess": "ravdess"}  # data set -> folder (dair-ai: emotion)
    assert set(course.required_data(path)) <= set(STUDENT_DATA), f"{_id(path)} requires {course.required_data(path)}"
    real = config.data_root(must_exist=False)
    root = tmp_path / "data"
    root.mkdir()
    for name, folder in STUDENT_DATA.items():
        assert get_spec(name).folder == folder
        real_dataset(name)
        (root / folder).symlink_to((real / folder).resolve())
    empty = tmp_path / "nltk_data_empty"  # NLTK_DATA may point at the real nltk_data (setup_nltk in this session)
    empty.mkdir()
    monkeypatch.setenv(config.DATA_ENV, str(root))
    monkeypatch.setenv("NLTK_DATA", str(empty))
    monkeypatch.setenv(results.METRICS_ENV, str(tmp_path / "metrics"))
    monkeypatch.setenv(results.NOTEBOOK_ENV, _id(path))
    out = tmp_path / "executed.ipynb"
    course.run_notebook(path, out, quick=True)
    executed = nbformat.read(out, as_version=4)
    assert not cell_errors(executed), f"{_id(path)}: cells with errors: {cell_errors(executed)}"
    assert any(c.get("outputs") for c in executed.cells if c.cell_type == "code" and not skipped(c))
    assert not metric_problems(executed, _id(path), tmp_path / "metrics")
    texts = ["".join(o.get("text", "")) for c in executed.cells for o in c.get("outputs", [])]
    system_nltk = [p for p in nltk.data.path if os.path.isdir(p) and os.listdir(p)
                   and not str(p).startswith(str(real))]  # NLTK data outside the data root would be found
    if "01_preprocessing" in path.name and not system_nltk:  # the stand-ins for NLTK's data are said in one line
        note = [line for t in texts for line in t.splitlines() if line.startswith("NLTK's data not found")]
        assert len(note) == 1 and "python -m mmer_utils.datasets fetch nltk_data" in note[0]
