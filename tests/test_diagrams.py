"""The notebooks' diagrams ship in the package (``mmer_utils.diagrams``) so that they show in Colab, where a
``pip install`` brings the package but not the repository's ``docs/``."""

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from conftest import REPO
from mmer_utils import diagrams

NOTEBOOKS = sorted((REPO / "notebooks").rglob("*.ipynb"))
SHOW = re.compile(r"""diagrams\.show\(\s*["']([^"']+)["']""")
# a markdown image or an HTML <img>: its target
IMAGE = re.compile(r"""!\[[^\]]*\]\(\s*<?([^)\s>]+)|<img\b[^>]*\bsrc\s*=\s*["']([^"']+)["']""", re.I)


def _cells(path, kind):
    nb = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == kind]


def _shown(path):
    return [m for source in _cells(path, "code") for m in SHOW.findall(source)]


def test_every_diagram_a_notebook_shows_is_in_the_package():
    shown = {(p.relative_to(REPO).as_posix(), name) for p in NOTEBOOKS for name in _shown(p)}
    assert {name for _, name in shown} >= {"audio_cnn_lstm", "ensemble_oof_stacking", "ensemble_cross_attention_qkv"}
    missing = sorted(f"{nb}: {name}" for nb, name in shown if name not in diagrams.names())
    assert not missing, f"notebooks show diagrams that mmer_utils/diagrams/ lacks: {missing}"


@pytest.mark.parametrize("name", diagrams.names())
def test_each_diagram_is_an_svg_with_a_title(name):
    root = ET.parse(diagrams.path(name)).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    title = root.find("{http://www.w3.org/2000/svg}title")
    assert title is not None and title.text.strip(), f"{name}.svg has no <title> (what a screen reader says)"


def test_show_returns_an_ipython_svg_of_the_file():
    from IPython.display import SVG

    svg = diagrams.show("audio_cnn_lstm")
    assert isinstance(svg, SVG)
    assert "<svg" in svg._repr_svg_() and "CNN-LSTM" in svg._repr_svg_()
    assert diagrams.show("audio_cnn_lstm.svg").data == svg.data  # the file name works too


def test_an_unknown_name_is_one_line_that_lists_the_diagrams():
    from mmer_utils.errors import MmerError

    with pytest.raises(diagrams.UnknownDiagramError) as err:
        diagrams.show("audio_cnn_lstn")
    message = str(err.value)
    assert isinstance(err.value, (MmerError, ValueError)) and "\n" not in message
    assert "'audio_cnn_lstn'" in message and all(name in message for name in diagrams.names())


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(REPO / "notebooks").as_posix())
def test_no_notebook_links_an_image_that_a_pip_install_lacks(path):
    """A student in Colab has the notebook and the installed package: an image must be a web address, an
    attachment of the notebook, or drawn by a code cell (``diagrams.show``), never a file of the repository."""
    targets = [a or b for source in _cells(path, "markdown") for a, b in IMAGE.findall(source)]
    local = [t for t in targets if not re.match(r"(https?:|data:|attachment:)", t)]
    assert not local, f"{path.name} links local images {local}: use mmer_utils.diagrams.show (package data)"


def test_the_image_check_finds_local_links():
    found = [a or b for a, b in IMAGE.findall('x ![a b](../../docs/img/x.svg) <img width=3 src="y.png"> '
                                              "![badge](https://example.org/b.svg)")]
    assert found == ["../../docs/img/x.svg", "y.png", "https://example.org/b.svg"]


def test_a_wheel_carries_the_diagrams(tmp_path):
    """What ``pip install git+...`` (Colab) installs: the package data of pyproject.toml, read back from the
    installed copy, not from the clone."""
    wheel_dir, target = tmp_path / "wheel", tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(REPO),
                    "-w", str(wheel_dir)], check=True, cwd=tmp_path, capture_output=True)
    wheel = next(wheel_dir.glob("mmer_utils-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, cwd=tmp_path, capture_output=True)
    code = ("import mmer_utils.diagrams as d; print(d.__file__); print(','.join(d.names())); "
            "print(all(len(d.show(n).data) > 1000 for n in d.names()))")
    out = subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(target)}).stdout.splitlines()
    assert out[0].startswith(str(target)), "the installed copy, not the clone, was imported"
    assert out[1].split(",") == diagrams.names()
    assert out[2] == "True"
