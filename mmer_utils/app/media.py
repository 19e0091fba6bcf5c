"""What a candidate sends, turned into the files the portrait reads, or one clear message.

Every input is judged by its **content**, never by its file name or the browser's
content type:

* a text answer is typed, or uploaded as a plain-text file or a PDF (``%PDF-`` magic bytes,
  read with ``pypdf``); anything else (an image, a zip, a recording) is refused;
* a voice or video recording is decoded with PyAV (FFmpeg): Chromium's MediaRecorder output
  (WebM with Opus and VP8/VP9), Firefox's (WebM/Ogg), Safari's (MP4 with AAC/H.264) and the
  common formats (WAV, FLAC, MP3, OGG, M4A, MP4, AVI, MOV...). Audio becomes a 16 kHz mono
  16-bit WAV (:func:`decode_audio`), video becomes an MP4 at a constant frame rate written
  with :class:`mmer_utils.video.io.VideoWriter` (OpenCV's ``mp4v``: what
  :func:`mmer_utils.video.io.iter_frames` reads everywhere; :func:`decode_video`).
  MediaRecorder's WebM has a variable frame rate and often no duration in its header:
  frames are placed by their timestamps, and durations are measured on the decoded stream.

Each function raises :class:`InputError` with a message meant for the candidate (no server
path in it); the caller shows it on the page.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np

from ..errors import MmerError

#: Sample rate of the WAV files given to the portrait (the course's rate).
AUDIO_SR = 16000

#: Magic bytes of formats a candidate may upload by mistake, to say what a refused file is.
_MAGIC = [
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive (or a Word/OpenOffice document)"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office document"),
    (b"\x1a\x45\xdf\xa3", "a WebM/Matroska recording"),
    (b"OggS", "an Ogg recording"),
    (b"fLaC", "a FLAC recording"),
    (b"ID3", "an MP3 recording"),
    (b"\x7fELF", "a program"),
    (b"MZ", "a Windows program"),
]


class InputError(MmerError, ValueError):
    """An answer the app cannot use; the message is shown to the candidate as it is."""


def describe_content(head: bytes) -> str | None:
    """What the first bytes of a file say it is (``"a PNG image"``...), or None when unknown."""
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "a WAV recording"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "an AVI video"
    if head[4:8] == b"ftyp":
        return "an MP4/MOV/M4A file"
    return None


# --------------------------------------------------------------------------- text


def count_words(text: str) -> int:
    """Words of at least one letter (``"I led 5 people."`` has 3)."""
    return len(re.findall(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", text))


def check_text(text: str, *, min_words: int, max_chars: int, what: str = "The text answer") -> str:
    """The answer, stripped, or :class:`InputError` when it is empty, too short or too long."""
    text = (text or "").replace("\r\n", "\n").strip()
    if not text:
        raise InputError(f"{what} is empty: write your answer (a few sentences) or upload it as a TXT or PDF file.")
    if len(text) > max_chars:
        raise InputError(f"{what} has {len(text):,} characters; the limit is {max_chars:,}: shorten it.")
    n = count_words(text)
    if n < min_words:
        raise InputError(f"{what} has {n} word{'s' if n != 1 else ''}; write at least {min_words} words "
                         "(a few sentences) so that the text models have something to read.")
    return text


def text_from_upload(data: bytes, filename: str, *, min_words: int, max_chars: int) -> str:
    """The answer held by an uploaded file: a PDF (by its magic bytes) or plain text (UTF-8 or Windows-1252)."""
    name = _display_name(filename)
    if not data:
        raise InputError(f"The file {name} is empty (0 bytes).")
    if data.startswith(b"%PDF-"):
        text = pdf_text(data, name)
    else:
        what = describe_content(data[:16])
        if what is not None or b"\x00" in data[:4096]:
            raise InputError(f"The file {name} is not a text or PDF file (its content is "
                             f"{what or 'binary data'}): upload a .txt or .pdf, or type the answer.")
        for encoding in ("utf-8-sig", "cp1252"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise InputError(f"The file {name} is not readable text (neither UTF-8 nor Windows-1252).")
        if sum(not (c.isprintable() or c.isspace()) for c in text) > 0.05 * max(len(text), 1):
            raise InputError(f"The file {name} is not a text or PDF file (its content is binary data).")
    return check_text(text, min_words=min_words, max_chars=max_chars, what=f"The text in {name}")


def pdf_text(data: bytes, name: str = "the PDF") -> str:
    """The text of every page of a PDF (``pypdf``); a PDF without text is an :class:`InputError`."""
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError:  # pragma: no cover - pypdf is a dependency of the app
        raise InputError("PDF files cannot be read on this server (pypdf is not installed): "
                         "upload a .txt file or type the answer.") from None
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise InputError(f"The PDF {name} is password-protected: upload an unprotected copy or type the answer.")
        pages = [page.extract_text() or "" for page in reader.pages[:50]]
    except InputError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise InputError(f"The PDF {name} cannot be read (damaged or incomplete: {type(exc).__name__}): "
                         "export it again or type the answer.") from None
    text = "\n".join(pages).strip()
    if not text:
        raise InputError(f"The PDF {name} has no text we can read (a scanned image?): "
                         "type or paste your answer instead.")
    return text


# --------------------------------------------------------------------------- recordings


def _display_name(filename: str | None) -> str:
    """A file name safe and short enough to quote in a message."""
    name = Path(str(filename or "")).name.strip() or "(no name)"
    name = re.sub(r"[^\w .()+-]", "_", name)
    return name if len(name) <= 60 else name[:57] + "..."


def _av():
    try:
        import av
    except ImportError:  # pragma: no cover - av is a dependency of the app
        raise InputError("recordings cannot be decoded on this server (PyAV is not installed)") from None
    return av


def _open(path: Path, name: str, what: str):
    """Open a container with PyAV, or say in one line why not."""
    av = _av()
    if path.stat().st_size == 0:
        raise InputError(f"The {what} {name} is empty (0 bytes): record again or choose another file.")
    try:
        return av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError, OSError):
        head = path.open("rb").read(16)
        kind = describe_content(head)
        if kind and "recording" not in kind and "video" not in kind and "MP4" not in kind:
            raise InputError(f"The {what} {name} is not a recording (its content is {kind}).") from None
        raise InputError(f"The {what} {name} cannot be decoded: it is corrupt, incomplete, or not "
                         "an audio/video file. Record again or upload another file.") from None


_IMAGE_FORMATS = re.compile(r"(^|,)(image2|\w+_pipe|gif|apng|webp|tiff?|png|mjpeg)(,|$)")


def decode_audio(src, dst, *, name: str, max_seconds: float, min_seconds: float = 1.0,
                 silence_rms: float = 1e-4, what: str = "voice recording") -> float:
    """Decode the first audio stream of ``src`` into ``dst``: a 16 kHz mono 16-bit WAV.

    Returns the duration in seconds. :class:`InputError` when ``src`` has no sound, cannot be
    decoded, lasts longer than ``max_seconds`` (decoding stops there) or less than
    ``min_seconds``, or is silent (RMS below ``silence_rms``: a muted microphone).
    """
    import soundfile as sf

    av = _av()
    src, dst = Path(src), Path(dst)
    name = _display_name(name)
    container = _open(src, name, what)
    try:
        if not container.streams.audio:
            kind = ("an image" if _IMAGE_FORMATS.search(container.format.name or "")
                    else "a video without sound" if container.streams.video else "not a recording")
            raise InputError(f"The {what} {name} has no sound ({kind}): record with the microphone "
                             "on, or upload an audio file.")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_SR)
        limit = int((max_seconds + 0.5) * AUDIO_SR)
        chunks, n = [], 0

        def take(frames):
            nonlocal n
            for out in frames:
                a = out.to_ndarray().reshape(-1)
                chunks.append(a)
                n += a.size

        try:
            for frame in container.decode(stream):
                take(resampler.resample(frame))
                if n > limit:
                    raise InputError(f"The {what} {name} lasts more than {max_seconds:g} s, the maximum: "
                                     "record a shorter answer.")
            take(resampler.resample(None))
        except av.error.FFmpegError:
            if n < min_seconds * AUDIO_SR:
                raise InputError(f"The {what} {name} cannot be decoded: it is corrupt or incomplete. "
                                 "Record again or upload another file.") from None
            # a recording cut short at its very end (a closed tab): keep what decoded
    finally:
        container.close()
    y = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    seconds = y.size / AUDIO_SR
    if seconds > max_seconds + 0.5:
        raise InputError(f"The {what} {name} lasts {seconds:.0f} s; the maximum is {max_seconds:g} s: "
                         "record a shorter answer.")
    if seconds < min_seconds:
        raise InputError(f"The {what} {name} lasts {seconds:.1f} s; speak for at least {min_seconds:g} s.")
    if not np.isfinite(y).all():
        raise InputError(f"The {what} {name} holds invalid samples: record again.")
    if float(np.sqrt(np.mean(y.astype(np.float64) ** 2))) < silence_rms:
        raise InputError(f"The {what} {name} is silent: check that the microphone is on and not muted, "
                         "then record again.")
    dst.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(dst), np.clip(y, -1.0, 1.0), AUDIO_SR, subtype="PCM_16", format="WAV")
    return seconds


def decode_video(src, dst, *, name: str, max_seconds: float, min_seconds: float = 1.0, fps: float = 10.0,
                 max_side: int = 640, what: str = "video recording") -> dict:
    """Decode the first video stream of ``src`` into ``dst``, an MP4 at ``fps`` frames per second.

    Frames are placed by their timestamps (a variable frame rate becomes a constant one) and
    scaled down so that their longer side is at most ``max_side``. Returns
    ``{"seconds", "frames", "has_audio"}``. :class:`InputError` for a file without pictures, a
    still image, a corrupt file, or one longer than ``max_seconds`` / shorter than ``min_seconds``.
    """
    from ..video.io import VideoError, VideoWriter

    av = _av()
    src, dst = Path(src), Path(dst)
    name = _display_name(name)
    container = _open(src, name, what)
    step = 1.0 / fps
    written = 0
    t0 = last_t = None
    writer = None
    try:
        if not container.streams.video:
            raise InputError(f"The {what} {name} has no picture (it is "
                             f"{'a sound recording' if container.streams.audio else 'not a video'}): "
                             "record with the camera on, or upload a video file.")
        if _IMAGE_FORMATS.search(container.format.name or ""):
            raise InputError(f"The {what} {name} is a still image, not a video.")
        has_audio = bool(container.streams.audio)
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        dst.parent.mkdir(parents=True, exist_ok=True)
        writer = VideoWriter(dst, fps=fps)
        prev = None
        try:
            index = 0
            for frame in container.decode(stream):
                t = frame.time if frame.time is not None else index / rate
                index += 1
                if t0 is None:
                    t0 = t
                t -= t0
                if last_t is not None and t < last_t:   # out-of-order timestamps: keep the order decoded
                    t = last_t
                if t > max_seconds + 0.5:
                    raise InputError(f"The {what} {name} lasts more than {max_seconds:g} s, the maximum: "
                                     "record a shorter answer.")
                image = _scaled(frame, max_side)
                # output slot k shows the latest frame whose time is <= k * step
                while prev is not None and written * step < t:
                    writer.write(prev)
                    written += 1
                prev, last_t = image, t
        except av.error.FFmpegError:
            if prev is None or (last_t or 0) < min_seconds:
                raise InputError(f"The {what} {name} cannot be decoded: it is corrupt or incomplete. "
                                 "Record again or upload another file.") from None
        if prev is None:
            raise InputError(f"The {what} {name} has no picture that can be decoded: record again.")
        end = (last_t or 0.0) + 1.0 / rate
        while written * step < end or written == 0:
            writer.write(prev)
            written += 1
    except VideoError as exc:
        raise InputError(f"The {what} {name} could not be converted ({exc}).") from None
    finally:
        if writer is not None:
            writer.close()
        container.close()
    seconds = written * step
    if seconds < min_seconds:
        dst.unlink(missing_ok=True)
        raise InputError(f"The {what} {name} lasts {seconds:.1f} s; answer for at least {min_seconds:g} s.")
    return {"seconds": seconds, "frames": written, "has_audio": has_audio}


def _scaled(frame, max_side: int) -> np.ndarray:
    """A decoded frame as uint8 BGR, its longer side at most ``max_side`` (even sizes: MP4 encoders want them)."""
    w, h = frame.width, frame.height
    scale = min(1.0, max_side / max(w, h))
    w2, h2 = max(2, int(round(w * scale)) // 2 * 2), max(2, int(round(h * scale)) // 2 * 2)
    return frame.reformat(width=w2, height=h2, format="bgr24").to_ndarray()
