"""Packages of mmer-utils; everything else is in pyproject.toml.

``models/`` (the course's pretrained models, at the root of the repository) is installed
as the data-only package ``mmer_utils.pretrained``, so ``mmer_utils.models`` finds the
shipped files after a plain ``pip install`` (Colab) as it does in a clone.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["mmer_utils", "mmer_utils.*"]) + ["mmer_utils.pretrained"],
    package_dir={"mmer_utils.pretrained": "models"},
)
