"""Every example in the package's docstrings runs: one doctest run per module that has ``>>>`` examples.

Examples that need the data sets, a download or minutes of work carry ``# doctest: +SKIP``
(they still show how to call the function). Besides the outcome, each module's prompts
are counted: an example that doctest cannot find (e.g. in a nested function) would
otherwise never run.
"""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path

import pytest

import mmer_utils

PACKAGE = Path(mmer_utils.__file__).parent
PROMPT = re.compile(r"^\s*>>>", re.MULTILINE)

#: Modules left out, with why. These files were being rewritten by others when this test was
#: written (their own tests run some of their examples: tests/test_portrait.py runs portrait.store and
#: portrait.report, tests/test_onnx_export.py runs onnx_export); put them back when they settle.
EXCLUDED = {
    "mmer_utils.portrait.report": "run by tests/test_portrait.py",
    "mmer_utils.portrait.store": "run by tests/test_portrait.py",
    "mmer_utils.onnx_export": "run by tests/test_onnx_export.py",
}


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")


def modules_with_examples() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if PROMPT.search(p.read_text())}


MODULES = sorted(set(modules_with_examples()) - set(EXCLUDED))


def test_the_exclusions_name_real_modules():
    files = {_module_name(p) for p in PACKAGE.rglob("*.py")}
    assert set(EXCLUDED) <= files
    assert len(MODULES) >= 35  # most of the package is checked


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, isolated_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    module = importlib.import_module(name)
    found = sum(len(t.examples) for t in doctest.DocTestFinder().find(module))
    prompts = len(PROMPT.findall(modules_with_examples()[name].read_text()))
    assert found == prompts, f"{name}: {prompts - found} of its {prompts} examples are where doctest does not look"
    failed, attempted = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert failed == 0, f"{name}: {failed} of {attempted} examples failed (see the captured output)"
