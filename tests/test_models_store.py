"""The model store: verified loading, one clear line for a missing, altered or wrong file, pip installs."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO
from mmer_utils.models import store
from mmer_utils.models.__main__ import main as cli

keras = pytest.importorskip("keras")


def _tiny_estimator():
    from mmer_utils.training import KerasEstimator

    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))
    est = KerasEstimator(batch_size=4)
    est.model_, est.classes_ = model, np.array(["a", "b"])
    return est


@pytest.fixture
def shop(tmp_path, monkeypatch):
    """A store folder with one tiny Keras model, catalogued."""
    monkeypatch.setenv(store.MODELS_ENV, str(tmp_path))
    path = _tiny_estimator().save(tmp_path / "tiny.keras")
    card = {"title": "tiny", "task": "test", "labels": ["a", "b"], "label_source": "test", "input": "(n, 3)",
            "training_data": "none", "protocol": "none", "metrics": [], "build_command": "none", "date": "today",
            "machine": "here", "licence": "MIT", "loader": "mmer_utils.training:KerasEstimator.load"}
    store.register("tiny", card, {"model": path})
    return tmp_path


def test_a_verified_model_loads_and_predicts(shop):
    assert store.list_models() == ["tiny"] and store.verify() == []
    est = store.load("tiny")
    assert est.predict_proba(np.zeros((2, 3), np.float32)).shape == (2, 2)
    assert (shop / "README.md").read_text().count("`tiny`") >= 2


def test_a_tampered_file_gives_one_line_naming_the_rebuild(shop):
    p = shop / "tiny.keras"
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside a member's data: still a zip with config.json, but altered
    p.write_bytes(bytes(data))
    with pytest.raises(store.ModelStoreError) as err:
        store.load("tiny")
    msg = str(err.value)
    assert "SHA-256" in msg and "python -m mmer_utils.models build tiny" in msg and "\n" not in msg


def test_a_missing_file_gives_one_line(shop):
    (shop / "tiny.keras").unlink()
    with pytest.raises(store.ModelStoreError, match="missing"):
        store.load("tiny")


def test_a_file_of_the_wrong_kind_gives_one_line_even_when_its_hash_matches(shop):
    p = shop / "tiny.keras"
    p.write_text("this is not a Keras model")
    cat = json.loads((shop / "catalogue.json").read_text())
    cat["models"]["tiny"]["files"][0]["sha256"] = store.sha256sum(p)  # someone re-catalogued it
    (shop / "catalogue.json").write_text(json.dumps(cat))
    with pytest.raises(store.ModelStoreError, match="not a Keras native archive"):
        store.load("tiny")
    # a zip that is not a Keras archive either
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("hello.txt", "hi")
    cat["models"]["tiny"]["files"][0]["sha256"] = store.sha256sum(p)
    (shop / "catalogue.json").write_text(json.dumps(cat))
    with pytest.raises(store.ModelStoreError, match="no config.json"):
        store.load("tiny")


def test_an_unknown_name_lists_the_shipped_ones(shop):
    with pytest.raises(store.ModelStoreError, match="shipped: tiny"):
        store.info("nope")


def test_verify_cli_reports_problems_and_budgets(shop, capsys, monkeypatch):
    assert cli(["verify"]) == 0
    assert "ok: 1 models verified" in capsys.readouterr().out
    (shop / "tiny.keras").write_bytes(b"PK")
    assert cli(["verify"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tiny.keras" in err[0]


def test_verify_reports_a_file_over_budget(shop, monkeypatch):
    monkeypatch.setattr(store, "MAX_FILE_BYTES", 100)
    problems = store.verify()
    assert len(problems) == 1 and "budget per file" in problems[0]


# --------------------------------------------------------------------------- the shipped models


def test_the_shipped_models_verify():
    if not (REPO / "models" / "catalogue.json").is_file():
        pytest.fail("models/catalogue.json is missing: the course ships its models")
    assert store.models_dir() == REPO / "models"
    assert store.verify() == []
    assert {"face_emotion", "voice_emotion", "text_emotion", "bigfive"} <= set(store.list_models())
    for name in store.list_models():
        card = store.info(name)
        for key in ("task", "labels", "input", "training_data", "protocol", "metrics", "build_command", "date",
                    "machine", "licence", "files"):
            assert card.get(key), f"{name}: card lacks {key}"


def test_the_store_works_from_a_plain_pip_install(tmp_path):
    """A wheel of the repository carries the models; installed elsewhere, the store finds and verifies them."""
    wheel_dir, target = tmp_path / "wheel", tmp_path / "site"
    env = {k: v for k, v in os.environ.items() if k != store.MODELS_ENV}
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(REPO),
                    "-w", str(wheel_dir)], check=True, env=env, cwd=tmp_path, capture_output=True)
    wheel = next(wheel_dir.glob("mmer_utils-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, env=env, cwd=tmp_path, capture_output=True)
    env["PYTHONPATH"] = str(target)
    code = ("import mmer_utils, mmer_utils.models as m; from pathlib import Path; "
            "print(Path(mmer_utils.__file__).parent); print(m.models_dir()); print(m.verify()); "
            "print(type(m.load('text_emotion')).__name__)")
    out = subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=tmp_path, capture_output=True,
                         text=True).stdout.splitlines()
    assert out[0].startswith(str(target)), "the installed copy, not the clone, was imported"
    assert out[1] == str(target / "mmer_utils" / "pretrained")
    assert out[2] == "[]"


@pytest.mark.data
def test_the_shipped_face_model_onnx_agrees_with_keras_on_privatetest_faces():
    from conftest import real_dataset

    from mmer_utils.onnx_export import OnnxClassifier
    from mmer_utils.video.data import load_fer_arrays, to_model_input

    real_dataset("fer2013")
    X, y = load_fer_arrays("test", limit=200)
    X = to_model_input(X)
    face = store.load("face_emotion")
    keras_proba = face.classifier.predict_proba(X)
    onnx_proba = OnnxClassifier(store.path("face_emotion", "onnx")).predict_proba(X)
    assert np.abs(keras_proba - onnx_proba).max() <= 1e-4
    assert (keras_proba.argmax(1) == onnx_proba.argmax(1)).all()
    assert (keras_proba.argmax(1) == y).mean() > 0.4   # a trained model, far above chance (1/7)


def test_the_shipped_text_and_voice_models_answer_in_their_labels():
    from mmer_utils.labels import MELD, RAVDESS

    text = store.load("text_emotion")
    proba = text.predict_proba(["I am so happy for you, this is wonderful!", "Get out of my room right now!"])
    assert proba.shape == (2, len(MELD)) and np.allclose(proba.sum(1), 1)
    assert text.labels[int(proba[0].argmax())] == "joy"
    big = store.load("bigfive")
    assert big.predict_proba(["I love parties and meeting new people every weekend."]).shape == (1, 5)
    voice = store.load("voice_emotion")
    sr = 16000
    t = np.arange(2 * sr) / sr
    y = (0.2 * np.sin(2 * np.pi * 180 * t * (1 + 0.1 * np.sin(2 * np.pi * 3 * t)))).astype(np.float32)
    p = voice.predict_proba([y])
    assert p.shape == (1, len(RAVDESS)) and np.isclose(p.sum(), 1)


def test_a_finished_training_replaces_its_checkpoint_with_the_shipped_model(tmp_path, monkeypatch):
    """The face recipe end to end on a tiny network: slices, release (Keras + ONNX + card), checkpoint gone."""
    from mmer_utils import results
    from mmer_utils.models import recipes
    from mmer_utils.video import recipe

    monkeypatch.setenv(store.MODELS_ENV, str(tmp_path / "models"))
    monkeypatch.setenv("MMER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(results, "results_dir", lambda: tmp_path / "results")
    tiny = {**recipe.RECIPE, "filters": [4, 4, 4, 4], "dense": 8, "batch_size": 16}
    monkeypatch.setattr(recipe, "RECIPE", tiny)
    monkeypatch.setattr(recipe, "MAX_EPOCHS", 2)
    rng = np.random.default_rng(0)

    def faces(n):
        return rng.random((n, 48, 48, 1), dtype=np.float32), np.arange(n) % 7

    monkeypatch.setattr(recipe, "load_data", lambda: {"train": faces(64), "val": faces(32), "test": faces(32)})
    folder = store.checkpoints_dir("face_emotion")

    assert recipes.build_face_emotion(max_minutes=0) is None          # a slice with no time: nothing shipped
    card = recipes.build_face_emotion()                                 # trains both epochs, then releases
    assert card["finished"] and not folder.exists()
    assert {f["role"] for f in card["files"]} == {"model", "onnx"}
    assert store.verify() == []
    assert card["onnx"]["max_abs_diff_vs_keras"] <= 1e-4
    face = store.load("face_emotion")
    assert face.predict_proba(np.zeros((2, 48, 48), np.uint8)).shape == (2, 7)
    rows = json.loads((tmp_path / "results" / "video.json").read_text())
    assert {r["metric"] for r in rows} == {"accuracy", "macro_f1"} and all(r["extra"]["finished"] for r in rows)


def test_the_voice_release_ships_the_best_finished_model_of_the_actor_folds(monkeypatch):
    """voice_winner reads results/audio.json: a deep model wins only with its six folds committed and recorded."""
    from mmer_utils.audio import experiment
    from mmer_utils.models import recipes

    classic, lstm, cnn = recipes.VOICE_ROW[0], "CNN-LSTM (log-mel windows)", "2-D CNN (whole log-mel)"
    scores = {classic: 0.58, lstm: 0.46, cnn: 0.63}
    finished = {lstm: 6, cnn: 6}

    def row(chapter, model, protocol, metric, split="test"):
        if model not in scores:
            raise store.ModelStoreError(f"no row for {model}")
        return {"value": scores[model]}

    monkeypatch.setattr(recipes, "result_row", row)
    monkeypatch.setattr(experiment, "published_fold_runs", lambda name: [{}] * finished.get(name, 0))
    assert recipes.voice_winner() == (cnn, 0.63)
    finished[cnn] = 5                       # a run still training is not shipped
    assert recipes.voice_winner() == (classic, 0.58)
    finished[cnn], scores[lstm] = 6, 0.70   # the best recorded deep model wins
    assert recipes.voice_winner() == (lstm, 0.70)
    del scores[lstm], scores[cnn]           # folds committed but not recorded: the classic model stays
    assert recipes.voice_winner() == (classic, 0.58)


def test_the_video_benchmark_scores_the_shipped_face_model_under_its_release_name():
    """`bench video`'s shipped_face member is the store's file, named as the release's row in results/video.json."""
    from mmer_utils.bench.video import _shipped_face
    from mmer_utils.results import load_records

    est, name, seconds, extra = _shipped_face()
    release = [r for r in load_records() if r["chapter"] == "video" and r["model"] == name]
    assert {(r["metric"], r["split"]) for r in release} >= {("accuracy", "test"), ("accuracy", "val")}
    assert seconds == release[0]["train_seconds"] and extra["epochs_run"] == release[0]["extra"]["epochs_run"]
    assert extra["finished"] == store.info("face_emotion").get("finished")
    X = np.random.default_rng(0).random((4, 48, 48, 1), dtype=np.float32)
    assert np.allclose(est.predict_proba(X), store.load("face_emotion").classifier.predict_proba(X), atol=1e-6)
