"""Video in and out: decoding, encoding, frame folders and image sequences (PyAV, FFmpeg inside).

Inputs are video files (anything FFmpeg decodes), folders of frames, or image sequences (a glob such
as ``shots/*.png`` or a printf pattern such as ``shots/%05d.png``). Outputs are video files (.mp4,
.mov, .mkv: H.264, yuv420p) or folders of numbered PNG frames (``-o DIR/``).

Decisions, stated once:

* **Streaming.** :func:`read_frames` yields one frame at a time and the writers take one at a
  time, so memory does not grow with a clip's length.
* **Timestamps.** Every frame keeps its presentation time (variable frame rates stay variable);
  the output stream takes the input stream's time base. Image sequences get ``fps``.
* **Rotation.** A display matrix (phones' portrait clips) is applied to the pixels: frames come out
  upright and the output carries no rotation.
* **Even sides.** H.264 in yuv420p needs even widths and heights: video outputs round each side down
  to an even number (at most one pixel). Frame folders keep the exact size.
* **Audio** is copied packet by packet (no re-encoding) when the output container takes its codec,
  else re-encoded to AAC.
* **Atomic output.** Video is encoded into a hidden temporary file beside the output; the audio
  is muxed in and the result renamed into place at the end (:func:`tfstyle.io.images.atomic_write`),
  so the output file is never half-written.
* **Checks first.** :func:`probe` demuxes the whole input (packets only, no decoding: fast) and
  decodes its first frame before any work, so a file that is not a video, truncated, has no frames
  or an unsupported codec fails with one line and nothing written.

PyAV (``av``) and OpenCV are optional dependencies (``pip install "tfstyle[video]"``); importing
this module imports neither.
"""

from __future__ import annotations

import glob
import os
import re
import stat
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from ..io import outputs
from ..io.images import MIN_SIDE, ImageError, atomic_write, load_image

INSTALL_HINT = 'pip install "tfstyle[video]"'
# Output containers (by suffix) and their FFmpeg muxer names.
VIDEO_FORMATS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska"}
# Audio codecs each container takes as they are (others are re-encoded to AAC).
AUDIO_COPY = {
    "mp4": {"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"},
    "mov": {"aac", "mp3", "alac", "ac3", "eac3", "pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_f32le"},
    "matroska": None,  # anything
}
FRAME_PATTERN = "{:06d}.png"  # frame folders: 000001.png, 000002.png, ... (1-based, as ffmpeg's %06d)
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


class VideoError(ValueError):
    """A video input or output cannot be used. The message is one line naming the file."""


def require_av():
    """The ``av`` module, or a one-line :class:`VideoError` naming the install command."""
    try:
        import av
    except ImportError:
        raise VideoError(f"video needs PyAV and OpenCV: {INSTALL_HINT}") from None
    return av


def require_cv2():
    """The ``cv2`` module, or a one-line :class:`VideoError` naming the install command."""
    try:
        import cv2
    except ImportError:
        raise VideoError(f"video needs PyAV and OpenCV: {INSTALL_HINT}") from None
    return cv2


@dataclass
class VideoInfo:
    """What :func:`probe` found.

    Attributes:
        path: the input as given. kind: "video" (a file FFmpeg decodes) or "frames" (a folder or an
            image sequence; ``files`` lists them in order).
        width, height: as displayed (after rotation).
        frames: number of frames. fps: the average frame rate. duration: seconds.
        rotation: degrees counterclockwise applied to the decoded pixels (0, 90, 180, 270).
        codec: the video codec ("png" etc. for frames). has_audio: an audio stream to keep.
        time_base: of the video stream's timestamps (1/fps for frames).
    """

    path: Path
    kind: str
    width: int
    height: int
    frames: int
    fps: Fraction
    duration: float
    rotation: int = 0
    codec: str = ""
    has_audio: bool = False
    time_base: Fraction = Fraction(1, 25)
    files: list[Path] = field(default_factory=list)


@dataclass
class Frame:
    """One decoded frame: ``index`` (0-based), ``pts`` (in the info's time base), ``time`` (seconds),
    ``image`` (H, W, 3) uint8 RGB, upright, at the size asked for."""

    index: int
    pts: int
    time: float
    image: np.ndarray


# ------------------------------------------------------------------------------------- inputs

def is_frames_output(path: str | os.PathLike) -> bool:
    """Whether ``-o path`` means a folder of frames: the text ends with ``/`` or names a folder."""
    text = os.fspath(path)
    return text.endswith(("/", os.sep)) or Path(text).is_dir()


def _sequence_files(text: str) -> list[Path] | None:
    """The files of an image-sequence pattern (glob ``*?[`` or printf ``%d``/``%05d``), or None."""
    if re.search(r"%0?\d*d", text):
        rx = re.compile("^" + re.sub(r"%0?(\d*)d", r"(\\d+)", re.escape(Path(text).name).replace(r"\%", "%"))
                        + "$")
        folder = Path(text).parent
        if not folder.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := rx.match(p.name))]
        return [p for _, p in sorted(found)]
    if any(ch in text for ch in "*?["):
        return sorted((Path(p) for p in glob.glob(text)), key=_natural)
    return None


def _natural(p: Path):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]


def _frame_files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in FRAME_SUFFIXES
                   and not p.name.startswith(".")), key=_natural)


def probe(path: str | os.PathLike, fps: float = 25.0) -> VideoInfo:
    """Check an input completely (before any work) and describe it.

    Args:
        path: a video file, a folder of frames, or an image sequence pattern.
        fps: the frame rate of folders and image sequences.

    Raises:
        VideoError: missing, not a video, truncated, no video stream or no frames, an unsupported
            codec, an unreadable frame image; or PyAV is not installed.
    """
    text = os.fspath(path)
    files = _sequence_files(text)
    p = Path(text)
    if files is None and p.is_dir():
        files = _frame_files(p)
        if not files:
            raise VideoError(f"{p}: folder holds no frames ({', '.join(FRAME_SUFFIXES)})")
    if files is not None:
        return _probe_frames(p, files, fps)
    try:
        st = os.stat(p)
    except OSError as e:
        raise VideoError(f"{p}: cannot read ({e.strerror or e})") from None
    if not stat.S_ISREG(st.st_mode):
        raise VideoError(f"{p}: not a regular file")
    if st.st_size == 0:
        raise VideoError(f"{p}: file is empty (0 bytes)")
    return _probe_video(p)


def _probe_frames(p: Path, files: list[Path], fps: float) -> VideoInfo:
    if not files:
        raise VideoError(f"{p}: no frames match this pattern")
    try:
        first = load_image(files[0])
    except ImageError as e:
        raise VideoError(str(e)) from None
    h, w = first.shape[:2]
    rate = Fraction(fps).limit_denominator(1001)
    return VideoInfo(path=p, kind="frames", width=w, height=h, frames=len(files), fps=rate,
                     duration=len(files) / float(rate), codec=files[0].suffix.lstrip(".").lower(),
                     time_base=1 / rate, files=list(files))


def _short(e: Exception) -> str:
    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
    msg = re.sub(r"^\[Errno -?\d+\] ", "", msg)
    return re.sub(r": '[^']*'$", "", msg)[:160]


def _probe_video(p: Path) -> VideoInfo:
    av = require_av()
    try:
        container = av.open(str(p))
    except Exception as e:  # noqa: BLE001 - FFmpeg raises many types for files it cannot read
        raise VideoError(f"{p}: not a video FFmpeg can read ({_short(e)})") from None
    with container:
        if not container.streams.video:
            raise VideoError(f"{p}: has no video stream")
        stream = container.streams.video[0]
        if stream.codec_context is None:
            raise VideoError(f"{p}: unsupported video codec (no decoder for it in this FFmpeg)")
        declared = int(stream.frames or 0)
        # Demux every packet (no decoding): counts the frames and finds truncated files at once.
        count = 0
        try:
            for packet in container.demux(stream):
                if packet.size:
                    count += 1
        except Exception as e:  # noqa: BLE001
            raise VideoError(f"{p}: truncated or corrupt video ({_short(e)})") from None
        if count == 0:
            raise VideoError(f"{p}: has no video frames")
        if declared and count < declared:
            raise VideoError(f"{p}: truncated video ({count} of the {declared} frames it declares are present)")
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        time_base = stream.time_base or Fraction(1, 90000)
        has_audio = bool(container.streams.audio) and container.streams.audio[0].codec_context is not None
        codec = stream.codec_context.name
    # Decode the first frame: a codec FFmpeg names but cannot decode fails here, not mid-run.
    first = None
    try:
        with av.open(str(p)) as c:
            s = c.streams.video[0]
            for frame in c.decode(s):
                first = frame
                break
    except Exception as e:  # noqa: BLE001
        raise VideoError(f"{p}: cannot decode its video ({_short(e)})") from None
    if first is None:
        raise VideoError(f"{p}: has no decodable video frames")
    rotation = _rotation(first)
    w, h = first.width, first.height
    if rotation in (90, 270):
        w, h = h, w
    duration = count / float(rate)
    return VideoInfo(path=p, kind="video", width=w, height=h, frames=count, fps=Fraction(rate),
                     duration=duration, rotation=rotation, codec=codec, has_audio=has_audio,
                     time_base=Fraction(time_base))


def _rotation(frame) -> int:
    """Counterclockwise degrees (0/90/180/270) from the frame's display matrix."""
    try:
        r = float(getattr(frame, "rotation", 0) or 0)
    except (TypeError, ValueError):
        return 0
    return int(round(r / 90.0)) % 4 * 90


def _resize_uint8(image: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Area-averaged down, bicubic up: a fast, alias-free resize of one uint8 frame."""
    if image.shape[:2] == tuple(hw):
        return image
    cv2 = require_cv2()
    h, w = hw
    shrink = h * w < image.shape[0] * image.shape[1]
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def read_frames(info: VideoInfo, hw: tuple[int, int] | None = None) -> Iterator[Frame]:
    """Decode the input frame by frame: upright uint8 RGB, resized to ``hw`` (H, W) if given.

    Timestamps are the stream's own (made strictly increasing: a repeated or backwards timestamp
    becomes the previous one plus one tick). Raises VideoError if decoding fails mid-way.
    """
    if info.kind == "frames":
        for i, f in enumerate(info.files):
            try:
                a = load_image(f)
            except ImageError as e:
                raise VideoError(str(e)) from None
            u8 = (np.clip(a, 0, 1) * 255.0 + 0.5).astype(np.uint8)
            yield Frame(i, i, i / float(info.fps), _resize_uint8(u8, hw) if hw else u8)
        return
    av = require_av()
    k = info.rotation // 90
    last_pts, first_pts = None, None
    try:
        with av.open(str(info.path)) as c:
            s = c.streams.video[0]
            s.thread_type = "AUTO"
            for i, frame in enumerate(c.decode(s)):
                pts = frame.pts if frame.pts is not None else (last_pts + 1 if last_pts is not None else 0)
                if first_pts is None:
                    first_pts = pts
                if last_pts is not None and pts <= last_pts:
                    pts = last_pts + 1
                last_pts = pts
                a = frame.to_ndarray(format="rgb24")
                if k:
                    a = np.ascontiguousarray(np.rot90(a, k))
                yield Frame(i, pts - first_pts, float((pts - first_pts) * info.time_base),
                            _resize_uint8(a, hw) if hw else a)
    except VideoError:
        raise
    except Exception as e:  # noqa: BLE001
        raise VideoError(f"{info.path}: decoding failed ({_short(e)})") from None


# ------------------------------------------------------------------------------------ outputs

def even_shape(hw: tuple[int, int]) -> tuple[int, int]:
    """(H, W) with each side rounded down to an even number (H.264 yuv420p), at least MIN_SIDE."""
    return tuple(max(MIN_SIDE, v - v % 2) for v in hw)


def check_output(path: str | os.PathLike, overwrite: bool = False) -> tuple[Path, bool]:
    """Check ``-o`` before any work: ``(path, is_frames_folder)``.

    Raises:
        VideoError: unknown suffix, existing file without ``overwrite``, missing parent folder.
    """
    text = os.fspath(path)
    p = Path(text)
    if is_frames_output(text):  # a folder of frames: an existing one is resumed or refilled
        return outputs.check_output(p, True, VideoError, folder=True), True
    if p.suffix.lower() not in VIDEO_FORMATS:
        raise VideoError(f"{p}: unknown output format {p.suffix or '(none)'}; use one of "
                         f"{', '.join(VIDEO_FORMATS)} or a folder ending in /")
    return outputs.check_output(p, overwrite, VideoError), False


class FrameFolder:
    """Numbered PNG frames in a folder (``000001.png`` ...): an output, and the resumable store of
    finished frames. Each frame is written atomically (temporary file, then rename)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def path(self, index: int) -> Path:
        return self.folder / FRAME_PATTERN.format(index + 1)

    def write(self, index: int, image: np.ndarray) -> Path:
        """Write frame ``index`` (uint8 RGB) as a temporary file renamed into place. Not fsynced:
        the rename keeps a reader (and a resumed run) from ever seeing half a frame, and syncing
        every frame cost as much as encoding it."""
        from PIL import Image

        self.folder.mkdir(parents=True, exist_ok=True)
        pil = Image.fromarray(np.ascontiguousarray(image, np.uint8), mode="RGB")
        path = self.path(index)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            # compress_level 1: deflate's higher levels cost several times the time for a few per
            # cent of size (bench/results/decisions.md).
            pil.save(tmp, format="PNG", compress_level=1)
            os.replace(tmp, path)
        except BaseException as e:
            tmp.unlink(missing_ok=True)
            if isinstance(e, OSError):
                raise VideoError(f"{path}: cannot write ({e.strerror or e})") from None
            raise
        return path

    def read(self, index: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB."""
        from PIL import Image

        with Image.open(self.path(index)) as im:
            return np.asarray(im.convert("RGB"))

    def count(self) -> int:
        """Frames present from the first on, without a gap."""
        n = 0
        while self.path(n).is_file():
            n += 1
        return n

    def frames(self) -> list[Path]:
        return sorted(p for p in self.folder.glob("[0-9]" * 6 + ".png"))


class VideoWriter:
    """Encodes frames into a hidden temporary file beside ``path``; :meth:`finish` muxes the audio
    in and renames the result into place, :meth:`abort` removes the temporary file.

    Args:
        path: the output (.mp4, .mov, .mkv).
        hw: (H, W) of every frame (even sides).
        fps: the nominal frame rate. time_base: of the ``pts`` given to :meth:`write`.
        crf: x264 constant rate factor (0 lossless .. 51; 18 looks lossless to most eyes).
    """

    def __init__(self, path: Path, hw: tuple[int, int], fps: Fraction, time_base: Fraction, crf: int = 18):
        av = require_av()
        self.path = Path(path)
        self.format = VIDEO_FORMATS[self.path.suffix.lower()]
        parent = self.path.parent if str(self.path.parent) else Path(".")
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".video.tmp", dir=parent)
        os.close(fd)
        self.tmp = Path(tmp)
        self.frames = 0
        try:
            self.container = av.open(str(self.tmp), "w", format=self.format)
            s = self.container.add_stream("libx264", rate=Fraction(fps).limit_denominator(100000))
            s.height, s.width = hw
            s.pix_fmt = "yuv420p"
            s.time_base = Fraction(time_base)
            s.codec_context.time_base = Fraction(time_base)
            s.options = {"crf": str(int(crf)), "preset": "medium"}
            self.stream = s
            self.time_base = Fraction(time_base)
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise

    def write(self, image: np.ndarray, pts: int) -> None:
        """Encode one (H, W, 3) uint8 RGB frame shown at ``pts`` (in ``time_base``)."""
        av = require_av()
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image, np.uint8), format="rgb24")
        frame.pts = int(pts)
        frame.time_base = self.time_base
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.frames += 1

    def abort(self) -> None:
        try:
            self.container.close()
        except Exception:  # noqa: BLE001 - the file goes anyway
            pass
        self.tmp.unlink(missing_ok=True)

    def finish(self, audio_from: Path | None = None) -> Path:
        """Flush the encoder, mux the audio of ``audio_from`` (if any) and rename into place."""
        try:
            for packet in self.stream.encode(None):
                self.container.mux(packet)
            self.container.close()
            atomic_write(self.path, lambda f: _mux(f, self.tmp, audio_from, self.format))
        finally:
            self.tmp.unlink(missing_ok=True)
        return self.path


def _mux(fileobj, video: Path, audio_from: Path | None, fmt: str) -> None:
    """Write ``video``'s stream plus ``audio_from``'s first audio stream (copied, else AAC) into
    ``fileobj``, interleaved by time. Packets only: memory stays flat."""
    av = require_av()
    with av.open(str(video)) as vin, av.open(fileobj, "w", format=fmt) as out:
        vs_in = vin.streams.video[0]
        vs_out = out.add_stream_from_template(vs_in)
        ain = None
        if audio_from is not None:
            ain = av.open(str(audio_from))
        try:
            audio = ain.streams.audio[0] if ain is not None and ain.streams.audio else None
            copy = audio is not None and (AUDIO_COPY[fmt] is None or audio.codec_context.name in AUDIO_COPY[fmt])
            as_out = None
            if audio is not None:
                if copy:
                    as_out = out.add_stream_from_template(audio)
                else:
                    as_out = out.add_stream("aac", rate=audio.codec_context.sample_rate or 48000)
                    as_out.layout = audio.codec_context.layout or "stereo"
            videos = (p for p in vin.demux(vs_in) if p.size)  # size 0: the demuxer's flush packet
            audios = _audio_packets(ain, audio, as_out, copy) if audio is not None else iter(())
            v, a = next(videos, None), next(audios, None)
            while v is not None or a is not None:
                # Interleave by time so that players need no large buffers.
                if a is None or (v is not None and _when(v) <= _when(a)):
                    v.stream = vs_out
                    out.mux(v)
                    v = next(videos, None)
                else:
                    a.stream = as_out
                    out.mux(a)
                    a = next(audios, None)
        finally:
            if ain is not None:
                ain.close()


def _when(packet) -> Fraction:
    """A packet's decoding time in seconds (Matroska leaves some decoding times unset: then its
    presentation time)."""
    t = packet.dts if packet.dts is not None else (packet.pts or 0)
    return t * packet.time_base


def _audio_packets(container, stream, out_stream, copy: bool):
    """Audio packets of ``stream``: its own (copy) or re-encoded for ``out_stream``."""
    if copy:
        for p in container.demux(stream):
            if p.size:
                yield p
        return
    for frame in container.decode(stream):
        frame.pts = None  # let the encoder count samples
        for p in out_stream.encode(frame):
            yield p
    for p in out_stream.encode(None):
        yield p


__all__ = ["VideoError", "VideoInfo", "Frame", "FrameFolder", "VideoWriter", "probe", "read_frames",
           "check_output", "even_shape", "is_frames_output", "require_av", "require_cv2", "INSTALL_HINT"]
