"""Every notebook: committed clean, built like the template, and executed end to end with papermill."""

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from conftest import REPO, real_dataset
from mmer_utils import course
from mmer_utils.datasets import DATASETS

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
    assert set(nb.metadata.get("mmer", {}).get("requires", [])) <= set(DATASETS)


@pytest.mark.notebooks
@pytest.mark.parametrize("path", RUN, ids=_id)
def test_notebook_runs_end_to_end_in_quick_mode(path, tmp_path, monkeypatch):
    for name in course.required_data(path):
        real_dataset(name)
    monkeypatch.setenv("MMER_METRICS_DIR", str(tmp_path / "metrics"))
    out = REPO / "build" / "notebooks" / path.relative_to(REPO / "notebooks")
    course.run_notebook(path, out, quick=True)
    executed = nbformat.read(out, as_version=4)
    assert any(c.get("outputs") for c in executed.cells if c.cell_type == "code")


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
        "import mmer_utils\nfrom mmer_utils.errors import DataNotFoundError\nraise DataNotFoundError('meld missing: run fetch meld')")])
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
