"""What each data set is, where it lives under the data root, and how a user gets it.

Every entry says how to obtain the data set: a verified download
(:func:`mmer_utils.datasets.fetch`), the Kaggle command line, or exact
instructions when the licence forbids redistribution.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Remote:
    """One file to download: its URL, where it goes, and its SHA-256 when known offline."""

    url: str
    filename: str
    sha256: str | None = None
    extract_to: str | None = None  # folder (relative to the data set) to unpack an archive into


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    folder: str
    title: str
    licence: str
    citation: str
    how_to_get: str
    remotes: tuple[Remote, ...] = ()
    counts: dict = field(default_factory=dict)
    kaggle: str | None = None

    @property
    def fetch_command(self) -> str:
        return f"python -m mmer_utils.datasets fetch {self.name}"


_MELD_COMMIT = "2d2011b409d3ca2d7e94460cd007d434b1d0a102"
_EMOTION_COMMIT = "6acbb8a7a763f9d664d89f007b5db0d23d4053e7"
_EMOTION_PATH = "backend/ml_models/emotion_detection/SetFit_emotion"
_ZOO_COMMIT = "82b38c8f98e7b52aa171400f3e4c722352d0669f"

DATASETS: dict[str, DatasetSpec] = {}


def _add(spec: DatasetSpec) -> None:
    DATASETS[spec.name] = spec


_add(DatasetSpec(
    name="fer2013",
    folder="fer2013",
    title="FER2013: 35,887 grayscale 48x48 faces, 7 emotions (Kaggle folder layout or fer2013.csv)",
    licence="Kaggle terms (ICML 2013 challenge); research and teaching",
    citation="Goodfellow et al. 2013, Challenges in Representation Learning, arXiv:1307.0414",
    how_to_get=(
        "with Kaggle credentials (~/.kaggle/kaggle.json): `pip install kaggle` then "
        "`python -m mmer_utils.datasets fetch fer2013`; otherwise download archive.zip from "
        "https://www.kaggle.com/datasets/msambare/fer2013 and run "
        "`python -m mmer_utils.datasets fetch fer2013 --archive archive.zip` "
        "(the challenge's fer2013.csv is accepted too: put it in <data root>/fer2013/)"
    ),
    kaggle="msambare/fer2013",
    counts={"Training": 28709, "PublicTest": 3589, "PrivateTest": 3589},
))

_add(DatasetSpec(
    name="ravdess",
    folder="ravdess",
    title="RAVDESS speech: 1,440 clips, 24 actors, 8 emotions (+ clip-level face action units when present)",
    licence="CC BY-NC-SA 4.0",
    citation="Livingstone & Russo 2018, PLoS ONE 13(5): e0196391, doi:10.5281/zenodo.1188976",
    how_to_get="`python -m mmer_utils.datasets fetch ravdess` (Zenodo record 1188976, about 200 MB)",
    remotes=(Remote(
        url="https://zenodo.org/records/1188976/files/Audio_Speech_Actors_01-24.zip?download=1",
        filename="Audio_Speech_Actors_01-24.zip",
        extract_to="Audio_Speech_Actors_01-24",
    ),),
    counts={"clips": 1440, "actors": 24},
))

_add(DatasetSpec(
    name="essays",
    folder="essays",
    title="Pennebaker & King essays: 2,467 stream-of-consciousness essays, five y/n Big Five traits",
    licence="WCPR 2013 terms: academic, non-commercial, no redistribution",
    citation="Pennebaker & King 1999, J. Pers. Soc. Psychol. 77(6), 1296-1312",
    how_to_get=(
        "not downloadable automatically (no redistribution allowed): request essays.zip from the "
        "WCPR 2013 / myPersonality distribution, then put essays.csv (or essays.csv.gz) in "
        "<data root>/essays/, or run `python -m mmer_utils.datasets fetch essays --archive essays.zip`"
    ),
    counts={"essays": 2467},
))

_add(DatasetSpec(
    name="meld",
    folder="meld",
    title="MELD text: utterances of Friends dialogues, 7 emotions + sentiment",
    licence="GPL-3.0 (repository); transcripts for research use",
    citation="Poria et al. 2019, MELD, ACL",
    how_to_get="`python -m mmer_utils.datasets fetch meld` (three CSV files, about 1.5 MB)",
    remotes=tuple(
        Remote(
            url=f"https://raw.githubusercontent.com/declare-lab/MELD/{_MELD_COMMIT}/data/MELD/{name}",
            filename=name,
            sha256=sha,
        )
        for name, sha in [
            ("train_sent_emo.csv", "d2fa2d6529cf03cac2989efec05c9b27d8fd2f4c8fc5974c7ae88aa537fa02db"),
            ("dev_sent_emo.csv", "2e89c6f8aa182d6f62f8c6331aece905ac7273ca4999660bfb5213e1d0370c1c"),
            ("test_sent_emo.csv", "8d37103938f7067600839fe29d5a114a6cd1bcdafb75bec101e06464c5006888"),
        ]
    ),
    counts={"train": 9989, "dev": 1109, "test": 2610},
))

_add(DatasetSpec(
    name="emotion",
    folder="emotion",
    title="dair-ai emotion: 20,000 English tweets, 6 emotions",
    licence="educational and research purposes only (dataset authors)",
    citation="Saravia et al. 2018, CARER, EMNLP",
    how_to_get="`python -m mmer_utils.datasets fetch emotion` (three JSON Lines files, about 2 MB)",
    remotes=tuple(
        Remote(
            url=f"https://raw.githubusercontent.com/tharoosha/Depresio/{_EMOTION_COMMIT}/{_EMOTION_PATH}/{name}",
            filename=name,
            sha256=sha,
        )
        for name, sha in [
            ("train.jsonl", "a5adb38c9e047b4f2b0349175dfdaa06436bad53847dbcf89d107a0a8669b657"),
            ("validation.jsonl", "7ca8ebb05f4e32c656e99f6c37c675261fc4b797421e7c36680bece86d63774e"),
            ("test.jsonl", "8e067a2bbfd2f4902e3020b0af41db9a3a37544495cbfd3ea00aca2414c3a551"),
        ]
    ),
    counts={"train": 16000, "validation": 2000, "test": 2000},
))

_add(DatasetSpec(
    name="yunet",
    folder="models/face_detection_yunet",
    title="YuNet face detector (OpenCV Zoo, ONNX, 0.2 MB)",
    licence="MIT (OpenCV Zoo) / Apache-2.0 (libfacedetection.train)",
    citation="Wu, Peng & Yu 2023, YuNet, Machine Intelligence Research 20(5)",
    how_to_get="`python -m mmer_utils.datasets fetch yunet`",
    remotes=(Remote(
        url=f"https://github.com/opencv/opencv_zoo/raw/{_ZOO_COMMIT}/models/face_detection_yunet/face_detection_yunet_2023mar.onnx",
        filename="face_detection_yunet_2023mar.onnx",
        sha256="8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
    ),),
))

_add(DatasetSpec(
    name="face_landmarker",
    folder="models/mediapipe_face_landmarker",
    title="MediaPipe FaceLandmarker: 478 landmarks + 52 blendshapes per face (3.8 MB)",
    licence="Apache-2.0 (MediaPipe)",
    citation="Google MediaPipe Face Landmarker, float16 v1",
    how_to_get="`python -m mmer_utils.datasets fetch face_landmarker`",
    remotes=(Remote(
        url="https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/1/face_landmarker.task",
        filename="face_landmarker.task",
        sha256="64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
    ),),
))

_add(DatasetSpec(
    name="nltk_data",
    folder="nltk_data",
    title="NLTK resources: stopwords, punkt_tab, averaged_perceptron_tagger_eng, wordnet",
    licence="see each NLTK package",
    citation="Bird, Klein & Loper 2009",
    how_to_get="`python -m mmer_utils.datasets fetch nltk_data` (NLTK's own downloader, into <data root>/nltk_data)",
))

NLTK_PACKAGES = ("stopwords", "punkt_tab", "averaged_perceptron_tagger_eng", "wordnet")


def get_spec(name: str) -> DatasetSpec:
    """Return the :class:`DatasetSpec` of ``name`` or raise a ValueError listing the known names."""
    key = name.lower().replace("-", "_")
    key = {"dair_emotion": "emotion", "dair_ai": "emotion", "nltk": "nltk_data", "fer": "fer2013"}.get(key, key)
    if key not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[key]
