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
    members_root: str | None = None  # unpack only this folder of the archive (without the folder itself)


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
# NLTK's own data repository (github.com/nltk/nltk_data, the source of `nltk.download`), at fixed
# commits. stopwords: the commit whose index.xml lists MD5 8726a900... for it (the SHA-256 below is of
# those bytes). The other three: a later commit whose index.xml gives SHA-256 checksums.
_NLTK_STOPWORDS_COMMIT = "5db857e6f7df11eabb5e5665836db9ec8df07e28"
_NLTK_COMMIT = "550b6625bcef1f2abff2ff770a5a0d272c9c6b2a"
_NLTK_RAW = "https://raw.githubusercontent.com/nltk/nltk_data/{commit}/packages/{path}"
# au_mfcc.pkl of KangHyunWook/Pytorch-implementation-of-Multimodal-emotion-recognition-on-RAVDESS-dataset (HEAD).
_AU_COMMIT = "dd366fbcde5a8248195a47b7c0efd974f25f74c2"
_AU_REPO = "KangHyunWook/Pytorch-implementation-of-Multimodal-emotion-recognition-on-RAVDESS-dataset"

#: SHA-256 of the sorted ``sha256sum`` listing of the 35,887 images of Kaggle's msambare/fer2013
#: (``train/`` and ``test/``; see :func:`mmer_utils.datasets.integrity.tree_digest`).
FER2013_IMAGES_DIGEST = "ba23a043626a58bb104f5bf743f2127d5207f5adb6ab67f91f0f995381fa8f1e"

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
        "(the challenge's fer2013.csv is accepted too: put it in <data root>/fer2013/); in Colab, "
        "`from mmer_utils.datasets.colab import upload_fer2013; upload_fer2013()` asks for either file"
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
        "not downloadable (the WCPR 2013 terms forbid redistribution): ask your instructor or the authors "
        "(Pennebaker & King) for essays.csv, then put it (or essays.csv.gz) in <data root>/essays/, or run "
        "`python -m mmer_utils.datasets fetch essays --archive essays.zip`; without it the text notebooks "
        "skip their Big Five training sections"
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
    name="nltk_data",
    folder="nltk_data",
    title="NLTK resources: stopwords, punkt_tab, averaged_perceptron_tagger_eng, wordnet",
    licence="see each NLTK package (WordNet 3.0: Princeton WordNet licence)",
    citation="Bird, Klein & Loper 2009",
    how_to_get=("`python -m mmer_utils.datasets fetch nltk_data` (four packages of NLTK's own data repository, "
                "pinned and hash-checked, about 17 MB, into <data root>/nltk_data)"),
    remotes=(
        Remote(url=_NLTK_RAW.format(commit=_NLTK_STOPWORDS_COMMIT, path="corpora/stopwords.zip"),
               filename="corpora/stopwords.zip",
               sha256="15c94179887425ca1bedc265608cab9f27d650211f709bb929e320990a4b01d1"),
        Remote(url=_NLTK_RAW.format(commit=_NLTK_COMMIT, path="corpora/wordnet.zip"),
               filename="corpora/wordnet.zip",
               sha256="cbda5ea6eef7f36a97a43d4a75f85e07fccbb4f23657d27b4ccbc93e2646ab59"),
        # NLTK 3.9 reads these two only unzipped, as nltk.download leaves them
        Remote(url=_NLTK_RAW.format(commit=_NLTK_COMMIT, path="tokenizers/punkt_tab.zip"),
               filename="punkt_tab.zip", extract_to="tokenizers/punkt_tab", members_root="punkt_tab",
               sha256="e57f64187974277726a3417ca6f181ec5403676c717672eef6a748a7b20e0106"),
        Remote(url=_NLTK_RAW.format(commit=_NLTK_COMMIT, path="taggers/averaged_perceptron_tagger_eng.zip"),
               filename="averaged_perceptron_tagger_eng.zip", extract_to="taggers/averaged_perceptron_tagger_eng",
               members_root="averaged_perceptron_tagger_eng",
               sha256="6025f530624335c67d6547d44757b357b4e79bae030a0383e9887a92c1718f0b"),
    ),
))

_add(DatasetSpec(
    name="ravdess_au",
    folder="ravdess/video",
    title="RAVDESS face action units: clip-mean OpenFace AUs of the 1,440 speech videos (for the fusion chapter)",
    licence="CC BY-NC-SA 4.0 (derived from RAVDESS)",
    citation=f"Livingstone & Russo 2018; AUs extracted with OpenFace by the authors of github.com/{_AU_REPO}",
    how_to_get=("`python -m mmer_utils.datasets fetch ravdess_au` (au_mfcc.pkl from GitHub, 3.4 MB, hash-checked, "
                "read with a restricted unpickler and converted to ravdess/video/openface_au_clipmean_speech.npz)"),
    remotes=(Remote(
        url=f"https://raw.githubusercontent.com/{_AU_REPO}/{_AU_COMMIT}/au_mfcc.pkl",
        filename="au_mfcc.pkl",
        sha256="7c450c0bc83e31b968168b280c123b740693d782c35b448141b402daa4556d5a",
    ),),
    counts={"clips": 1440},
))

NLTK_PACKAGES = ("stopwords", "punkt_tab", "averaged_perceptron_tagger_eng", "wordnet")

#: Names of the model files in :mod:`mmer_utils.video.assets` (not data sets; named here for error messages).
MODEL_ASSETS = ("yunet", "face_landmarker")


def get_spec(name: str) -> DatasetSpec:
    """Return the :class:`DatasetSpec` of ``name`` or raise a ValueError listing the known names."""
    key = name.lower().replace("-", "_")
    key = {"dair_emotion": "emotion", "dair_ai": "emotion", "nltk": "nltk_data", "fer": "fer2013",
           "ravdess_action_units": "ravdess_au"}.get(key, key)
    if key not in DATASETS:
        extra = ""
        if key in MODEL_ASSETS:
            extra = f" ({name} is a model file: python -m mmer_utils.video.assets fetch {key})"
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}{extra}")
    return DATASETS[key]
