"""The model store: the course's pretrained models, verified before they are loaded.

The shipped files live in ``models/`` at the root of the repository (``$MMER_MODELS_DIR``
overrides it). A ``pip install`` of the repository ships the same folder as package data
(``mmer_utils/pretrained/``), so the store works the same from a clone and in Colab.
``models/catalogue.json`` describes each model (its card): task, labels, input, training
data and protocol, headline metrics with the ``results/*.json`` rows they come from, every
file's size and SHA-256, the command that rebuilds it, date, machine and licence terms.

Loading a model checks, in this order, that its file exists, that it is a file of the
expected kind (a ``.keras`` or ``.skops`` zip archive, an ONNX protobuf), and that its
SHA-256 matches the catalogue; any failure is one line naming the rebuild command. The
formats themselves cannot run code when loaded: Keras' native format with
``safe_mode=True``, skops with an explicit list of trusted types, ONNX.

>>> from mmer_utils import models
>>> "face_emotion" in models.list()                            # doctest: +SKIP
True
>>> face = models.load("face_emotion")                          # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import json
import os
import zipfile
from pathlib import Path

from .. import config
from ..atomic import atomic_write_json, atomic_write_text
from ..datasets.download import sha256sum
from ..errors import MmerError

#: Environment variable that points at another model folder.
MODELS_ENV = "MMER_MODELS_DIR"
CATALOGUE = "catalogue.json"
#: Budgets of the shipped folder (bytes): per file, and for the whole folder.
MAX_FILE_BYTES = 10 * 10**6
MAX_FOLDER_BYTES = 60 * 10**6
#: File kinds the store knows, by suffix.
KINDS = {".keras": "Keras native archive", ".skops": "skops archive", ".onnx": "ONNX model"}


class ModelStoreError(MmerError, RuntimeError):
    """A shipped model that cannot be used: missing, altered, of the wrong kind, unknown."""


# --------------------------------------------------------------------------- where


def models_dir() -> Path:
    """The folder of shipped models: ``$MMER_MODELS_DIR``, ``<repo>/models``, or the installed package data."""
    env = os.environ.get(MODELS_ENV)
    if env:
        return Path(env).expanduser().resolve()
    repo = config.repo_root()
    if repo is not None and (repo / "models" / CATALOGUE).is_file():
        return repo / "models"
    return Path(__file__).resolve().parent.parent / "pretrained"


def checkpoints_dir(name: str) -> Path:
    """Where the resumable training of ``name`` keeps its checkpoint.

    In a clone, ``models/checkpoints/<name>/`` (committed between working sessions so the
    next machine resumes it); in an installed package, the cache folder.
    """
    repo = config.repo_root()
    if repo is not None and os.environ.get(MODELS_ENV) is None:
        return repo / "models" / "checkpoints" / name
    return config.cache_dir("checkpoints", name)


def read_catalogue(folder: Path | None = None) -> dict:
    """The catalogue as a dict ``{"format": 1, "models": {name: card}}`` (empty when none)."""
    path = (folder or models_dir()) / CATALOGUE
    if not path.is_file():
        return {"format": 1, "models": {}}
    return json.loads(path.read_text())


def write_catalogue(catalogue: dict, folder: Path | None = None) -> Path:
    folder = folder or models_dir()
    catalogue["models"] = dict(sorted(catalogue["models"].items()))
    return atomic_write_json(folder / CATALOGUE, catalogue, indent=1, ensure_ascii=False)


# --------------------------------------------------------------------------- what


def list_models() -> list[str]:
    """The names of the shipped models."""
    return sorted(read_catalogue()["models"])


def info(name: str) -> dict:
    """The card of model ``name`` (a dict; see the module docstring)."""
    models = read_catalogue()["models"]
    if name not in models:
        known = ", ".join(sorted(models)) or "none"
        raise ModelStoreError(f"no shipped model named {name!r} (shipped: {known})")
    return dict(models[name])


def rebuild_command(name: str) -> str:
    return f"python -m mmer_utils.models build {name}"


# --------------------------------------------------------------------------- checks


def file_kind_problem(path: Path) -> str | None:
    """None when ``path`` looks like a file of the kind its suffix says, else why not."""
    suffix = path.suffix
    if suffix not in KINDS:
        return f"unknown model file type {suffix!r}"
    if suffix in (".keras", ".skops"):
        if not zipfile.is_zipfile(path):
            return f"is not a {KINDS[suffix]} (not a zip archive)"
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
        except zipfile.BadZipFile:
            return f"is not a {KINDS[suffix]} (a damaged zip archive)"
        need = "config.json" if suffix == ".keras" else "schema.json"
        if need not in names:
            return f"is not a {KINDS[suffix]} (no {need} inside)"
        return None
    # ONNX: a protobuf whose graph parses
    try:
        import onnx

        onnx.load_model(str(path), load_external_data=False)
    except ImportError:
        return None  # cannot check without the onnx package; onnxruntime will
    except Exception:  # noqa: BLE001 - any parse failure means "not ONNX"
        return f"is not an {KINDS[suffix]} (the protobuf does not parse)"
    return None


def check_file(name: str, entry: dict, folder: Path | None = None) -> Path:
    """Path of one catalogued file after the three checks (exists, kind, SHA-256); else one-line error."""
    folder = folder or models_dir()
    path = folder / entry["name"]
    fix = f"rebuild it with: {rebuild_command(name)}"
    if not path.is_file():
        raise ModelStoreError(f"model {name!r}: file {entry['name']} is missing from {folder}; {fix}")
    problem = file_kind_problem(path)
    if problem:
        raise ModelStoreError(f"model {name!r}: {entry['name']} {problem}; {fix}")
    digest = sha256sum(path)
    if digest != entry["sha256"]:
        raise ModelStoreError(f"model {name!r}: {entry['name']} does not match its SHA-256 in the catalogue "
                              f"(altered or half-written); {fix}")
    return path


def path(name: str, role: str = "model") -> Path:
    """The verified path of model ``name``'s file of ``role`` (``"model"`` or ``"onnx"``)."""
    card = info(name)
    entries = [f for f in card["files"] if f["role"] == role]
    if not entries:
        raise ModelStoreError(f"model {name!r} ships no {role} file")
    return check_file(name, entries[0])


def verify(names=None) -> list[str]:
    """Check every shipped file (or those of ``names``) and the folder's budgets; return the problems.

    An empty list means every file exists, is of its kind and matches its SHA-256, no
    file exceeds :data:`MAX_FILE_BYTES` and the folder stays under :data:`MAX_FOLDER_BYTES`.
    """
    folder = models_dir()
    catalogue = read_catalogue(folder)
    problems = []
    for name in names or sorted(catalogue["models"]):
        try:
            files = info(name)["files"]
        except ModelStoreError as exc:
            problems.append(str(exc))
            continue
        for entry in files:
            try:
                p = check_file(name, entry, folder)
            except ModelStoreError as exc:
                problems.append(str(exc))
                continue
            if p.stat().st_size > MAX_FILE_BYTES:
                problems.append(f"model {name!r}: {entry['name']} is {p.stat().st_size / 1e6:.1f} MB, over the "
                                f"{MAX_FILE_BYTES / 1e6:.0f} MB budget per file")
    total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0
    if total > MAX_FOLDER_BYTES:
        problems.append(f"{folder} holds {total / 1e6:.1f} MB, over the {MAX_FOLDER_BYTES / 1e6:.0f} MB budget")
    return problems


# --------------------------------------------------------------------------- load


def _loader(spec: str):
    module, qualname = spec.split(":")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def load(name: str, **kwargs):
    """Model ``name``, ready to use, after :func:`check_file` on each of its files.

    Returns the object of the model's inference API (for example a
    :class:`~mmer_utils.video.predict.FaceEmotionModel`); ``kwargs`` go to its loader.
    """
    card = info(name)
    paths = {f["role"]: check_file(name, f) for f in card["files"] if f["role"] in card.get("load_roles", ["model"])}
    loader = _loader(card["loader"])
    try:
        return loader(**{card.get("load_args", {}).get(role, "path"): p for role, p in paths.items()}, **kwargs)
    except MmerError:
        raise
    except Exception as exc:  # noqa: BLE001 - a file that passed the checks but does not load
        raise ModelStoreError(f"model {name!r} passed its checks but does not load ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''}); {rebuild_command(name)}") from None


# --------------------------------------------------------------------------- writing cards


def file_entry(p: Path, role: str) -> dict:
    return {"name": p.name, "role": role, "bytes": p.stat().st_size, "sha256": sha256sum(p)}


def register(name: str, card: dict, files: dict[str, Path]) -> dict:
    """Add or replace model ``name`` in the catalogue with ``card`` and its ``files`` (role -> path)."""
    folder = models_dir()
    catalogue = read_catalogue(folder)
    card = {**card, "name": name, "files": [file_entry(p, role) for role, p in files.items()]}
    catalogue["models"][name] = card
    write_catalogue(catalogue, folder)
    write_readme(folder)
    return card


def _metric_text(m: dict) -> str:
    value = m["value"]
    shown = f"{100 * value:.1f} %" if m.get("percent", True) else f"{value:.3g}"
    return f"{shown} {m['metric'].replace('_', ' ')} ({m['split']})"


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 10**5 else f"{n / 1e3:.0f} kB"


def readme_table(catalogue: dict) -> str:
    """The catalogue as a Markdown table (the README's "Pretrained models" section).

    One headline number per model (its card's first metric); the card has the others,
    and each number's ``results/*.json`` row, command, date and machine.
    """
    lines = ["| model | task | headline | protocol | files | built |",
             "|---|---|---|---|---|---|"]
    for name, card in catalogue["models"].items():
        head = _metric_text(card["metrics"][0]) if card.get("metrics") else "-"
        if card.get("finished") is False:
            head += ", interim (training continues)"
        files = ", ".join(f"`{f['name']}` {_size(f['bytes'])}" for f in card["files"])
        lines.append(f"| `{name}` | {card['task']} | {head} | {card['protocol']} | {files} | {card['date']} |")
    return "\n".join(lines)


#: Markers of the generated table in the repository's README.
README_START, README_END = "<!-- models table: start -->", "<!-- models table: end -->"


def update_repo_readme(catalogue: dict) -> Path | None:
    """Replace the table between :data:`README_START` and :data:`README_END` in the clone's README.md."""
    repo = config.repo_root()
    readme = repo / "README.md" if repo is not None else None
    if readme is None or not readme.is_file():
        return None
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        return None
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    return atomic_write_text(readme, f"{head}{README_START}\n{readme_table(catalogue)}\n{README_END}{tail}")


def write_readme(folder: Path | None = None) -> Path:
    """Regenerate ``models/README.md`` (and, in a clone, the README's table) from the catalogue."""
    folder = folder or models_dir()
    catalogue = read_catalogue(folder)
    if folder == (config.repo_root() or Path("/nonexistent")) / "models":
        update_repo_readme(catalogue)
    parts = ["# Pretrained models", "",
             "Generated from `catalogue.json` by `python -m mmer_utils.models readme`; do not edit by hand.",
             "Check the files with `python -m mmer_utils.models verify`; load one with "
             "`mmer_utils.models.load(NAME)`.", "", readme_table(catalogue), ""]
    for name, card in catalogue["models"].items():
        parts += [f"## `{name}`: {card['title']}", "", card.get("description", ""), "",
                  f"- **Task**: {card['task']}; **labels** ({card['label_source']}): {', '.join(card['labels'])}",
                  f"- **Input**: {card['input']}",
                  f"- **Training data**: {card['training_data']}",
                  f"- **Protocol**: {card['protocol']}"]
        for m in card.get("metrics", []):
            src = m.get("source")
            parts.append(f"- **{m['metric']}** ({m['split']}): {_metric_text(m)}"
                         + (f", from `{src['file']}` row \"{src['model']}\" / \"{src['protocol']}\"" if src else "")
                         + (f", by `{src['command']}` on {src.get('date', '?')} ({src.get('machine', '?')})"
                            if src and src.get("command") else ""))
        if card.get("training"):
            parts.append(f"- **Training**: {card['training']}")
        parts += [f"- **Files**: " + ", ".join(f"`{f['name']}` ({f['bytes']:,} bytes, SHA-256 `{f['sha256'][:16]}…`)"
                                               for f in card["files"]),
                  f"- **Rebuild**: `{card['build_command']}`",
                  f"- **Built**: {card['date']} on {card['machine']}",
                  f"- **Licence terms**: {card['licence']}", ""]
        if card.get("notes"):
            parts += [f"Notes: {card['notes']}", ""]
    return atomic_write_text(folder / "README.md", "\n".join(parts))
