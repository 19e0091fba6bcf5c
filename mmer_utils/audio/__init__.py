"""Audio chapter: emotion in the voice (RAVDESS).

Modules, one idea each: :mod:`~mmer_utils.audio.io` (loading, resampling, input
checks), :mod:`~mmer_utils.audio.dsp` (signal processing from first principles),
:mod:`~mmer_utils.audio.features` (classic per-frame features and their
statistics), :mod:`~mmer_utils.audio.baselines` (scaler + SVM),
:mod:`~mmer_utils.audio.opensmile_peer` (the openSMILE peer baseline),
:mod:`~mmer_utils.audio.augment`, :mod:`~mmer_utils.audio.models` (CNN-LSTM),
:mod:`~mmer_utils.audio.stream` (real time) and :mod:`~mmer_utils.audio.predict`.
"""
