"""Synthetic clips with known motion, for measuring temporal consistency (and for the tests).

A clip is a camera moving over a still photo: a pan (constant sub-pixel velocity) or a zoom (a
constant factor per frame about the centre), with independent Gaussian sensor noise on every frame.
Because every frame samples the same photo through a known affine map, the flow between frames is
exact: frame t at pixel x shows the photo at ``s_t(x) = a_t x + b_t``, so the pixel of frame t-1
showing the same point is ``x' = (a_t x + b_t - b_{t-1}) / a_{t-1}``, and ``flow(t, t-1) = x' - x``
(``tfstyle.video.flow``'s convention: ``frame_t(x) = frame_{t-1}(x + flow(x))``). Pixels
whose ``x'`` leaves frame t-1 are masked out.

Also :func:`write_clip`: frames (and optionally a tone as audio) to a video file with PyAV.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np


@dataclass
class Clip:
    """frames: list of (H, W, 3) uint8. flows[t]: exact flow(t, t-1) for t >= 1 (flows[0] is None);
    masks[t]: (H, W) 1 where it lands inside frame t-1."""

    frames: list
    flows: list
    masks: list


def _affine(kind: str, t: int, hw, src_hw, speed: float):
    """(a_t, b_t) of frame t: source = a_t * x + b_t (x, b as (col, row))."""
    h, w = hw
    sh, sw = src_hw
    if kind == "pan":
        a = 1.0
        # Diagonal drift, sub-pixel per frame, starting in the top-left of the available room.
        room = np.array([sw - w - 2.0, sh - h - 2.0])
        v = np.array([speed, 0.37 * speed])
        b = np.array([1.0, 1.0]) + np.minimum(v * t, room)
        return a, b
    if kind == "zoom":
        a = (1.0 - speed) ** t  # zoom in: each frame sees a smaller part of the photo
        c_src = np.array([(sw - 1) / 2.0, (sh - 1) / 2.0])
        c_dst = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
        return a, c_src - a * c_dst
    raise ValueError(f"kind must be pan or zoom, got {kind!r}")


def motion_clip(photo: np.ndarray, hw=(96, 128), frames: int = 16, kind: str = "pan", speed: float = 1.3,
                noise: float = 0.02, seed: int = 0) -> Clip:
    """A clip of ``frames`` frames of size ``hw`` moving over ``photo`` ((H, W, 3) float RGB [0, 1]).

    Args:
        kind: "pan" (``speed`` px per frame to the right, 0.37x that down) or "zoom" (the field of
            view shrinks by the fraction ``speed`` per frame, e.g. 0.01).
        noise: standard deviation of the per-frame Gaussian sensor noise (RGB in [0, 1]).
    """
    import cv2

    from tfstyle.io.images import resize

    h, w = hw
    # The photo at a scale where one clip pixel is about one photo pixel, with room to pan.
    ph, pw = photo.shape[:2]
    scale = max((h + frames * 0.37 * speed + 8) / ph, (w + frames * speed + 8) / pw) if kind == "pan" else \
        max(h / ph, w / pw) * 1.02
    src = resize(photo, (int(np.ceil(ph * scale)), int(np.ceil(pw * scale))))
    rng = np.random.default_rng(seed)
    out, flows, masks = [], [None], [None]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    for t in range(frames):
        a, b = _affine(kind, t, hw, src.shape[:2], speed)
        m = np.array([[a, 0.0, b[0]], [0.0, a, b[1]]], np.float64)
        f = cv2.warpAffine(src, m, (w, h), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REFLECT)
        f = f + rng.normal(0.0, noise, f.shape)
        out.append((np.clip(f, 0, 1) * 255.0 + 0.5).astype(np.uint8))
        if t:
            a0, b0 = _affine(kind, t - 1, hw, src.shape[:2], speed)
            xp = (a * gx + b[0] - b0[0]) / a0
            yp = (a * gy + b[1] - b0[1]) / a0
            flows.append(np.stack([xp - gx, yp - gy], axis=-1).astype(np.float32))
            masks.append(((xp >= 0) & (xp <= w - 1) & (yp >= 0) & (yp <= h - 1)).astype(np.float32))
    return Clip(out, flows, masks)


def write_clip(path, frames, fps=25, audio: bool = False, codec: str = "libx264", rotation: int = 0,
               pts=None, fmt: str | None = None) -> None:
    """Write uint8 RGB frames to a video file (even sides for yuv420p), optionally with a 440 Hz tone
    as AAC audio, a display rotation, or explicit timestamps (in 1/1000 s: variable frame rate)."""
    import av

    with av.open(str(path), "w", format=fmt) as out:
        s = out.add_stream(codec, rate=fps)
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "yuv420p"
        if pts is not None:
            s.time_base = s.codec_context.time_base = Fraction(1, 1000)
        if rotation:
            s.set_display_rotation(rotation)
        a = None
        if audio:
            a = out.add_stream("aac", rate=44100)
            a.layout = "mono"
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
            if pts is not None:
                vf.pts, vf.time_base = int(pts[i]), Fraction(1, 1000)
            else:
                vf.pts = i
            for p in s.encode(vf):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
        if a is not None:
            n, total = 0, int(44100 * len(frames) / fps)
            while n < total:
                k = min(1024, total - n)
                tone = (0.3 * np.sin(2 * np.pi * 440 * (n + np.arange(k)) / 44100)).astype(np.float32)[None]
                af = av.AudioFrame.from_ndarray(tone, format="flt", layout="mono")
                af.sample_rate, af.pts = 44100, n
                n += k
                for p in a.encode(af):
                    out.mux(p)
            for p in a.encode(None):
                out.mux(p)
