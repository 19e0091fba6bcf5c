"""Full-data benchmarks: one command per chapter, records in ``results/<chapter>.json``.

``python -m mmer_utils.bench CHAPTER --full`` trains and evaluates a chapter's models
with the same package functions its notebooks call, saves one
:class:`~mmer_utils.results.BenchRecord` per number and regenerates ``RESULTS.md``.
``python -m mmer_utils.bench report`` only regenerates ``RESULTS.md``.

A chapter registers its benchmark in :data:`CHAPTERS` as ``name -> "module:function"``;
the function takes ``full: bool`` and returns a list of records.
"""

#: benchmark name -> "module:function(full, command)" returning a list of BenchRecord.
CHAPTERS: dict[str, str] = {
    "audio": "mmer_utils.bench.audio:run",  # both below, in one run
    "audio-classic": "mmer_utils.bench.audio_classic:run",  # features + SVM, openSMILE peer
    "audio-deep": "mmer_utils.bench.audio_deep:run",  # CNN-LSTM, 2-D CNN (resumable per fold)
    "audio-stack": "mmer_utils.bench.audio_stack:run",  # deep + classic on the same folds (after audio-deep)
    "text": "mmer_utils.bench.text:run",  # both below, in one run
    "text-bigfive": "mmer_utils.bench.text_bigfive:run",  # Big Five, 10-fold CV per trait
    "text-emotion": "mmer_utils.bench.text_emotion:run",  # dair-ai and MELD
    "text-encoder": "mmer_utils.bench.text_encoder:run",  # optional pretrained MiniLM: MELD, dair-ai, Big Five
    "ensemble": "mmer_utils.bench.ensemble:run",  # audio-visual fusion on RAVDESS, FER stacking
    "video-landmarks": "mmer_utils.bench.video_landmarks:run",  # MediaPipe blendshapes/geometry, blinks
    "video-realtime": "mmer_utils.bench.video_realtime:run",  # pipeline frames/s: ours vs the fer peer
    "video": "mmer_utils.bench.video:run",  # FER2013: HOG + SVM, CNNs, mini-XCeption, fer peer (resumable)
    "app-load": "mmer_utils.bench.app_load:run",  # the interview simulator: answers sent at once (localhost)
    "browser-face": "mmer_utils.bench.browser_face:run",  # face models in headless Chromium vs Python, frames/s
}
