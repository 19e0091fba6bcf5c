"""Each deep-model notebook writes its main model in a visible cell (keras-io style); the package's builder must
build the same network: the same layers (class and name, nested models and ``TimeDistributed`` included), the same
output shape per layer, the same parameters per layer and in total, and the same layer settings."""
import json
import types
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

REPO = Path(__file__).resolve().parents[1]
MARKER = "# the model, as the package builds it: "


def notebook_cell(rel: str, builder: str) -> str:
    """The source of the code cell of ``notebooks/<rel>`` whose first line is ``MARKER + builder``."""
    nb = json.loads((REPO / "notebooks" / rel).read_text(encoding="utf-8"))
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    found = [s for s in cells if s.splitlines() and s.splitlines()[0].strip() == MARKER + builder]
    assert len(found) == 1, f"{rel}: {len(found)} code cells start with {MARKER + builder!r} (expected one)"
    return found[0]


def notebook_namespace(rel: str, *builders: str, **imported) -> dict:
    """The namespace after ``exec`` of those cells in turn, with ``keras``, ``np`` and ``imported`` imported or
    defined as in the notebook's earlier cells."""
    ns = {"keras": keras, "np": np, "__name__": "notebook_cell", **imported}
    for builder in builders:
        exec(compile(notebook_cell(rel, builder), f"{rel} ({builder})", "exec"), ns)
    return ns


def _settings(layer) -> dict:
    """The layer's config, without what names or numbers it (compared separately or irrelevant)."""
    cfg = layer.get_config()
    for key in ("name", "layer", "layers", "input_layers", "output_layers", "trainable", "dtype"):
        cfg.pop(key, None)
    return cfg


def describe(model, prefix="") -> list[tuple]:
    """One row per layer, nested models and wrapped layers (``TimeDistributed``) unfolded:
    (path, class, output shape, parameters, settings)."""
    rows = []
    for layer in model.layers:
        path = prefix + layer.name
        out = layer.output  # a list for a layer with several outputs (attention with its scores)
        shape = [tuple(t.shape) for t in out] if isinstance(out, (list, tuple)) else tuple(out.shape)
        rows.append((path, type(layer).__name__, shape, layer.count_params(), _settings(layer)))
        inner = getattr(layer, "layer", None)  # TimeDistributed, Bidirectional
        if isinstance(layer, keras.Model):
            rows += describe(layer, path + "/")
        elif isinstance(inner, keras.Model):
            rows += describe(inner, path + "/")
        elif inner is not None:
            rows.append((path + "/" + inner.name, type(inner).__name__, None, inner.count_params(), _settings(inner)))
    return rows


def assert_same_architecture(mine, theirs):
    a, b = describe(mine), describe(theirs)
    assert [r[:2] for r in a] == [r[:2] for r in b], "different layers (name, class)"
    for x, y in zip(a, b):
        assert x[2] == y[2], f"{x[0]}: output shape {x[2]} in the notebook, {y[2]} in the package"
        assert x[3] == y[3], f"{x[0]}: {x[3]} parameters in the notebook, {y[3]} in the package"
        assert x[4] == y[4], f"{x[0]}: settings differ\nnotebook: {x[4]}\npackage:  {y[4]}"
    assert mine.output_shape == theirs.output_shape
    assert mine.count_params() == theirs.count_params()


@pytest.mark.parametrize("kwargs", [{}, {"filters": (8, 8, 16, 16), "lstm_units": (16,)}], ids=["full", "quick"])
def test_voice_cnn_lstm_matches_the_package(kwargs):
    from mmer_utils.audio import models, spectrogram

    ns = notebook_namespace("02_audio/03_deep_models.ipynb", "mmer_utils.audio.models.build_cnn_lstm")
    shape = spectrogram.windows_shape(3.5, win=128, hop=64)
    assert_same_architecture(ns["cnn_lstm_model"](shape, 8, **kwargs), models.build_cnn_lstm(shape, 8, **kwargs))


@pytest.mark.parametrize("kwargs", [{}, {"base_filters": 4, "filters": (8, 16), "l2": 0.001, "bn_momentum": 0.9}],
                         ids=["full", "small"])
def test_mini_xception_matches_the_package(kwargs):
    from mmer_utils.video import models

    ns = notebook_namespace("03_video/03_deep_models.ipynb", "mmer_utils.video.models.build_mini_xception",
                            models=models)
    assert_same_architecture(ns["mini_xception_model"](**kwargs), models.build_mini_xception(**kwargs))


BLOCKS = {"audio": (0, 420), "face": (420, 455)}  # av.load_audiovisual's: 420 voice features, 35 action units


def fusion_namespace() -> dict:
    """The two model cells of the fusion notebook, executed in order (the second uses the first's SliceColumns)."""
    from mmer_utils import labels
    from mmer_utils.fusion import audiovisual as av

    builder = "mmer_utils.fusion.audiovisual.build_fusion_net"
    return notebook_namespace("04_ensemble/02_audio_visual_fusion.ipynb", f'{builder}(fusion="concat")',
                              f'{builder}(fusion="attention")', av=av,
                              data=types.SimpleNamespace(blocks=BLOCKS), EMOTIONS=list(labels.RAVDESS))


@pytest.mark.parametrize("kwargs", [{}, {"n_tokens": 2, "token_dim": 8, "heads": 4, "units": 16}],
                         ids=["default", "small"])
def test_attention_fusion_net_matches_the_package(kwargs):
    from mmer_utils.fusion import audiovisual as av

    ns = fusion_namespace()
    assert_same_architecture(ns["attention_fusion_model"](BLOCKS, 8, **kwargs),
                             av.build_fusion_net(BLOCKS, 8, fusion="attention", **kwargs))


@pytest.mark.parametrize("kwargs", [{}, {"units": 16, "dropout": 0.5, "l2": 0.01}], ids=["default", "small"])
def test_joint_fusion_net_matches_the_package(kwargs):
    from mmer_utils.fusion import audiovisual as av

    ns = fusion_namespace()
    assert_same_architecture(ns["joint_fusion_model"](BLOCKS, 8, **kwargs),
                             av.build_fusion_net(BLOCKS, 8, fusion="concat", **kwargs))
