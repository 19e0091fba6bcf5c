"""`make test`: the unit tests first, then the notebooks (marker `notebooks`), one summary line at the end."""

import doctest
import json
import shutil
import subprocess

import pytest

import pytest_counts
from conftest import REPO


def test_make_test_runs_the_unit_tests_then_the_notebooks():
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    out = subprocess.run(["make", "-n", "-o", ".venv/.mmer-installed", "test", "PYTEST_ARGS=--the-args"],
                         cwd=REPO, capture_output=True, text=True, check=True).stdout
    unit, notebooks = out.index('-m "not notebooks" --the-args'), out.index("-m notebooks --the-args")
    summary = out.index("tests/pytest_counts.py")
    assert unit < notebooks < summary
    assert "[ $? -eq 5 ]" in out and "[ $rc -eq 5 ]" in out  # "no test selected" is not a failure


def test_ci_runs_make_test():
    lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert "make test" in lines


def test_the_notebook_runs_carry_the_notebooks_marker():
    import tomllib

    import test_notebooks

    markers = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["markers"]
    assert any(m.startswith("notebooks:") for m in markers)
    marks = {m.name for m in getattr(test_notebooks.test_notebook_runs_end_to_end_in_quick_mode, "pytestmark", [])}
    assert "notebooks" in marks


def test_summary_line_sums_the_runs_in_pytests_format(tmp_path):
    failed, attempted = doctest.testmod(pytest_counts)
    assert failed == 0 and attempted > 0
    pytest_counts.save(tmp_path / "1-unit.json", {"passed": [1] * 5, "failed": [1], "error": [1, 1],
                                                  "deselected": [1] * 9, "": [1]}, 12.0, 1)
    pytest_counts.save(tmp_path / "2-notebooks.json", {"passed": [1] * 3, "deselected": [1] * 6}, 50.5, 0)
    line = pytest_counts.summary_line([json.loads(p.read_text()) for p in sorted(tmp_path.glob("*.json"))])
    assert line.strip("= ") == "1 failed, 8 passed, 2 errors in 62.50s (0:01:02)"
    assert pytest_counts.main([str(tmp_path)]) == 0
    assert pytest_counts.main([str(tmp_path / "none")]) == 1
