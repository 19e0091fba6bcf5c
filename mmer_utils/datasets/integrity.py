"""Check a data set on disk: checksums (its ``MANIFEST.sha256`` or the hashes this
package ships) and the counts its source publishes.

>>> report = verify("meld")                               # doctest: +SKIP
>>> report.ok, report.checked                             # doctest: +SKIP
(True, 3)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ._common import dataset_dir
from .download import sha256sum, verify_files
from .loaders import LOADERS, loader_for
from .registry import FER2013_IMAGES_DIGEST, get_spec


@dataclass
class VerifyReport:
    name: str
    path: Path
    checksum_source: str = "none"
    checked: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        state = "OK" if self.ok else f"{len(self.problems)} problem(s)"
        if self.checked == 0 and self.checksum_source == "nothing":  # present, but nothing to compare its files with
            checks = "present; its files are not hash-checked: no MANIFEST.sha256 in the folder and no shipped checksums"
        else:
            checks = f"{self.checked} file(s) checked against {self.checksum_source}"
        lines = [f"{self.name}: {state} ({checks}) at {self.path}"]
        lines += [f"  problem: {p}" for p in self.problems[:20]]
        if len(self.problems) > 20:
            lines.append(f"  ... and {len(self.problems) - 20} more")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def read_manifest(path: Path) -> dict[str, str]:
    """Read a ``sha256sum``-style file into {relative path: sha256}; lines starting with # are skipped."""
    expected = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        digest, rel = line.split(None, 1)
        expected[rel.lstrip("*").strip()] = digest.lower()
    return expected


def shipped_checksums(name: str) -> dict[str, str]:
    """Hashes of the original files that the package ships for ``name`` (empty when none)."""
    if name == "ravdess":
        text = resources.files("mmer_utils.datasets").joinpath("checksums/ravdess_speech_wav.sha256")
        with resources.as_file(text) as path:
            return {f"Audio_Speech_Actors_01-24/{rel}": h for rel, h in read_manifest(path).items()}
    spec = get_spec(name)
    if spec.name == "ravdess_au":
        return {}  # the pickle is checked when it is downloaded, then converted and deleted
    # Archives are unpacked and deleted: only files kept as downloaded can be checked later.
    return {r.filename: r.sha256 for r in spec.remotes if r.sha256 and r.extract_to is None}


def tree_digest(root, folders=("train", "test")) -> tuple[str, int]:
    """SHA-256 of the ``sha256sum``-style listing (``HASH  PATH`` lines, sorted by path) of every
    file under ``folders`` of ``root``, and the number of files.

    One constant then checks a whole tree of images without shipping a line per file.
    """
    root = Path(root)
    files = sorted(p for folder in folders if (root / folder).is_dir() for p in (root / folder).rglob("*")
                   if p.is_file())
    listing = "".join(f"{sha256sum(p)}  {p.relative_to(root).as_posix()}\n" for p in files)
    return hashlib.sha256(listing.encode()).hexdigest(), len(files)


def verify(name: str, root: str | Path | None = None, *, counts: bool = True) -> VerifyReport:
    """Check ``name`` under the data root; return a :class:`VerifyReport` (``.ok``, ``.summary()``).

    Uses the folder's own ``MANIFEST.sha256`` when present, else the hashes of the
    official files that the package ships. With ``counts=True`` the loader is run
    and its counts compared with the published ones.
    """
    spec = get_spec(name)
    base = dataset_dir(spec.name, root)
    report = VerifyReport(spec.name, base)
    manifest = base / "MANIFEST.sha256"
    if manifest.is_file():
        expected = read_manifest(manifest)
        report.checksum_source = "MANIFEST.sha256"
    else:
        expected = shipped_checksums(spec.name)
        if spec.name == "ravdess" and not any((base / rel).exists() for rel in list(expected)[:50]):
            expected = {}  # a re-encoded copy (e.g. FLAC) cannot match the WAV hashes
            report.notes.append("no original WAV files and no MANIFEST.sha256: checksums skipped")
        report.checksum_source = "the package's checksums of the official files" if expected else "nothing"
        if spec.name == "fer2013" and (base / "train").is_dir():
            _check_fer2013_images(base, report)
    if expected:
        for problem in verify_files(base, expected):
            # A README edited after its manifest was written is documentation, not data.
            if problem.split(": ", 1)[-1].rsplit("/", 1)[-1].lower().startswith("readme"):
                report.notes.append(problem + " (documentation only)")
            else:
                report.problems.append(problem)
        report.checked = len(expected)
    if counts:
        _check_counts(spec.name, root, report)
    return report


def _check_fer2013_images(base: Path, report: VerifyReport) -> None:
    """The Kaggle folders (``msambare/fer2013``, ``archive.zip``): one digest over all 35,887 images."""
    digest, n = tree_digest(base)
    report.checksum_source = "the package's digest of the 35,887 images of Kaggle's msambare/fer2013"
    report.checked = n
    if digest != FER2013_IMAGES_DIGEST:
        report.problems.append(f"the {n:,} images under train/ and test/ differ from Kaggle's msambare/fer2013 "
                               "release (a file changed, missing or added); unpack archive.zip again")


def _check_counts(name: str, root, report: VerifyReport) -> None:
    if name not in LOADERS:
        return
    df = loader_for(name)(root)
    spec = get_spec(name)
    if name == "fer2013":
        got = df["usage"].value_counts().to_dict()
    elif name == "ravdess":
        got = {"clips": len(df), "actors": df["actor"].nunique()}
    elif name == "ravdess_au":
        got = {"clips": len(df)}
    elif name == "essays":
        got = {"essays": len(df)}
    else:
        got = df["split"].value_counts().to_dict()
    for key, want in spec.counts.items():
        have = got.get(key, 0)
        if have == want:
            continue
        message = f"{key}: {have:,} rows, the source has {want:,}"
        if name == "essays" and 0 < want - have <= 2:
            report.notes.append(message + " (a known near-complete copy; report results on this subset)")
        else:
            report.problems.append(message)
