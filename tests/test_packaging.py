"""pyproject.toml and environment.yml describe the same environment; the layout is the course's."""

import re
import sys

import yaml

from conftest import REPO

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[@;]", req, maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_agrees_with_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["dev"]
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pip_reqs = [r for r in pip_section if not r.startswith("-e")]
    assert sorted(pip_reqs) == sorted(wanted), "environment.yml and pyproject.toml list different requirements"
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert project["requires-python"].lstrip(">=") in python


def test_opencv_is_pinned_below_5_and_alone():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    cv = [d for d in deps if _name(d).startswith("opencv")]
    assert len(cv) == 1 and "<5" in cv[0], "one OpenCV distribution, below 5 (5.x ships no Haar cascades)"


def test_installed_opencv_has_cascades_and_yunet():
    import cv2

    assert int(cv2.__version__.split(".")[0]) == 4
    assert (REPO / "pyproject.toml").exists()
    assert cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml").empty() is False
    assert hasattr(cv2, "FaceDetectorYN")


def test_course_layout():
    for path in ["notebooks/00_setup.ipynb", "notebooks/_template.ipynb", "notebooks/01_text",
                 "notebooks/02_audio", "notebooks/03_video", "notebooks/04_ensemble", "mmer_utils", "data/README.md",
                 "tests", "environment.yml", "pyproject.toml", "README.md", ".ci/run", "Makefile"]:
        assert (REPO / path).exists(), path


def test_readme_quickstart_names_the_two_commands_and_ci_calls_the_test_one():
    readme = (REPO / "README.md").read_text()
    assert "make course" in readme and "make test" in readme
    assert "make test" in (REPO / ".ci" / "run").read_text()
