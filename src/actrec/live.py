"""Live labelling: camera, stream or file → newest frame → one backbone pass + one GRU step → label.

A leaf of the flow (after `model`, beside `predict`). Capture runs in its own thread and keeps only
the newest frame, so when inference is slower than the camera old frames are dropped, never
queued, and the delay never grows. The head was trained on frames sampled at the bundle's fps;
a camera delivers more, so frames are dealt in turn to `lanes` (a 30 fps camera and a 10 fps model
give 3 lanes), each a proper 10 fps sequence with its own motion input, normalisation statistics
and GRU state: every frame costs one backbone pass and one GRU step, and the label updates at the
camera's rate. `mode=window` re-scores the last `window` features instead, exactly as `predict`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import cv2
import numpy as np
import torch

from actrec.backbone import Backbone
from actrec.errors import ActrecError
from actrec.model import GRUHead, backbone_for_bundle, head_from_bundle, load_bundle
from actrec.predict import draw_label
from actrec.video import Grabber

log = logging.getLogger("actrec")
HIDDEN_LABEL = "…"  # shown while the smoothed score is below the threshold


@dataclass
class Track:
    """One GRU run, started from a zero state at some step: its state and outputs so far."""

    state: torch.Tensor | None = None  # (layers, 1, H)
    outs: list[torch.Tensor] = field(default_factory=list)  # (H,) per step


@dataclass
class Lane:
    """One fps-spaced subsequence of the frames: motion input, recent features, GRU runs."""

    window: int
    prev: np.ndarray | None = None  # last frame of this lane, resized (S, S, 3)
    feats: deque = field(default_factory=deque)  # last `window` (D,) features
    tracks: list[Track] = field(default_factory=list)  # oldest first
    mean: torch.Tensor | None = None  # (D,) running statistics for the streaming normalisation
    var: torch.Tensor | None = None

    def standardise(self, f: torch.Tensor) -> torch.Tensor:
        """(D,) feature → (1, D), standardised by exponential running statistics over ~window/3.

        `clip_standardise` uses the whole window's statistics, future frames included; online
        only the past is known. Statistics over the last window lag an action change by seconds;
        a short memory (measured on a 60 s video of back-to-back actions: 0.89 of labels right
        once an action has lasted 3 s, against 0.55 with last-window statistics) follows it.
        """
        alpha = 2 / (self.window / 3 + 1)
        if self.mean is None:
            self.mean, self.var = f.clone(), torch.zeros_like(f)
        d = f - self.mean
        self.mean = self.mean + alpha * d
        self.var = (1 - alpha) * (self.var + alpha * d * d)
        std = self.var.sqrt()
        return ((f - self.mean) / (std + 0.1 * std.mean() + 1e-6))[None]  # floor as in training

    def push(self, item: torch.Tensor) -> torch.Tensor:
        """Add a (D,) feature → the last `window` of them, (1, T, D)."""
        self.feats.append(item)
        while len(self.feats) > self.window:
            self.feats.popleft()
        return torch.stack(list(self.feats))[None]

    def tracks_for_step(self) -> list[Track]:
        """Staggered restarts: a new run every window/2 steps, a run dropped at `window` steps.

        The head was trained on windows that start from a zero state; a state carried on for
        minutes would remember actions long gone. The oldest live run has seen between half a
        window and a window of frames, like `predict`'s windows, for 2 GRU steps per frame.
        """
        if self.tracks and len(self.tracks[0].outs) >= self.window:
            self.tracks.pop(0)
        if not self.tracks or len(self.tracks[-1].outs) >= max(1, self.window // 2):
            self.tracks.append(Track())
        return self.tracks


class Scorer:
    """Features → class probabilities, streaming (one GRU step) or over the last window."""

    def __init__(self, head: GRUHead, backbone: Backbone, window: int, mode: str, lanes: int):
        if mode not in ("stream", "window"):
            raise ActrecError(f"mode must be 'stream' or 'window', got {mode!r}")
        self.head, self.backbone, self.mode = head, backbone, mode
        self.lanes = [Lane(window) for _ in range(max(1, lanes))]
        self.size = (backbone.settings.imgsz,) * 2

    @torch.inference_mode()
    def __call__(self, rgb: np.ndarray, lane: int) -> np.ndarray:
        """A full-size RGB frame → (C,) probabilities from lane `lane`."""
        ln = self.lanes[lane]
        small = cv2.resize(rgb, self.size, interpolation=cv2.INTER_AREA)
        f = self.backbone.features(small[None], ln.prev)[0]  # (D,)
        ln.prev = small
        x = ln.push(torch.from_numpy(f))  # (1, T, D)
        if self.mode == "window":
            return torch.softmax(self.head(x)[0], -1).numpy()  # the call `predict` makes
        z = ln.standardise(x[0, -1]) if self.head.clip_norm else x[:, -1]  # (1, D)
        for tr in ln.tracks_for_step():
            out, tr.state = self.head.step(z, tr.state)  # (1, H)
            tr.outs.append(out[0])
        outs = torch.stack(ln.tracks[0].outs)[None]  # (1, T', H) of the oldest run
        logits = self.head.pool_classify(outs, torch.ones(outs.shape[:2], dtype=torch.bool))
        return torch.softmax(logits[0], -1).numpy()


class Smoother:
    """Moving average of the last `n` probability vectors, hidden below `threshold`."""

    def __init__(self, classes: list[str], n: int = 5, threshold: float = 0.4, topk: int = 3):
        self.classes, self.threshold, self.topk = classes, threshold, topk
        self.recent: deque[np.ndarray] = deque(maxlen=max(1, n))

    def __call__(self, probs: np.ndarray) -> tuple[str, float, list[tuple[str, float]]]:
        """→ (shown label or "…", its score, top-k (label, score) pairs)."""
        self.recent.append(probs)
        mean = np.mean(self.recent, 0)
        order = np.argsort(-mean)[: self.topk]
        top = [(self.classes[i], float(mean[i])) for i in order]
        label, score = top[0]
        return (label if score >= self.threshold else HIDDEN_LABEL), score, top


def lane_count(source_fps: float, model_fps: float, mode: str, lanes: int | None) -> int:
    """Auto: as many lanes as the source has frames per model frame; window mode uses one."""
    if lanes:
        return int(lanes)
    return 1 if mode == "window" else max(1, round(source_fps / model_fps))


def _qt_fonts() -> None:
    """OpenCV's wheel points Qt at a font folder it does not ship; use the system's instead."""
    if Path(os.environ.get("QT_QPA_FONTDIR", "")).is_dir():
        return
    for d in ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype", "/usr/share/fonts"):
        if Path(d).is_dir():
            os.environ["QT_QPA_FONTDIR"] = d  # read when the first window opens
            return


def has_display() -> bool:
    return sys.platform in ("win32", "darwin") or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


@dataclass
class LiveOptions:
    """`actrec live` options (see the README)."""

    source: str | int = 0  # camera index, video file or stream URL
    mode: str = "stream"  # stream: one GRU step per frame | window: re-score the last window
    realtime: bool | None = None  # files: paced at their fps (default) or as fast as possible
    smooth: int = 5  # moving average over this many probability vectors
    threshold: float = 0.4  # below it the label shows as "…"
    topk: int = 3
    lanes: int | None = None  # auto: source fps / model fps (1 in window mode)
    headless: bool | None = None  # auto: true when no display is present
    out: str | None = None  # annotated video
    log: str | None = None  # JSON lines: t, label, score, fps, latency_ms
    duration: float | None = None  # stop after this many seconds
    device: str | None = None


class VideoOut:
    """Annotated frames → mp4, on the source's clock: a dropped frame repeats the last one."""

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int]) -> None:
        self.path, self.fps = Path(path), fps
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.path.with_name(self.path.stem + ".part" + self.path.suffix)
        self.writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        self.count, self.last = 0, None

    def write(self, bgr: np.ndarray, t: float) -> None:
        while self.last is not None and self.count < round(t * self.fps):
            self.writer.write(self.last)
            self.count += 1
        self.writer.write(bgr)
        self.count, self.last = self.count + 1, bgr

    def close(self) -> None:
        self.writer.release()
        if self.count:
            self.tmp.replace(self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def draw_overlay(bgr: np.ndarray, shown: tuple, fps: float, latency: float, info: str) -> None:
    """Smoothed label and bar, the top-k below it, measured FPS and label latency at the bottom."""
    label, score, top = shown
    draw_label(bgr, label, score)
    h, w = bgr.shape[:2]
    scale = max(0.35, w / 900)
    y = int(34 * max(0.4, w / 640)) + 4
    for name, p in top[1:]:
        y += int(22 * scale) + 2
        cv2.putText(bgr, f"{name} {p:.2f}", (6, y), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale,
                    (255, 255, 255), 1, cv2.LINE_AA)  # fmt: skip
    text = f"{fps:.1f} FPS  latency {latency * 1000:.0f} ms  {info}"
    cv2.rectangle(bgr, (0, h - int(24 * scale) - 6), (w, h), (0, 0, 0), -1)
    cv2.putText(bgr, text, (6, h - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, (0, 255, 255), 1,
                cv2.LINE_AA)  # fmt: skip


def _summary(records: list[dict], grab: Grabber, shown: tuple, seconds: float) -> dict:
    lat = np.array([r["latency_ms"] for r in records]) if records else np.zeros(1)
    fps = [r["fps"] for r in records if r["fps"] > 0]
    return dict(
        label=shown[0], score=round(shown[1], 4), labelled=len(records), dropped=grab.dropped,
        seconds=round(seconds, 2), fps_median=round(float(np.median(fps)) if fps else 0.0, 2),
        latency_p50_ms=round(float(np.percentile(lat, 50)), 1),
        latency_p95_ms=round(float(np.percentile(lat, 95)), 1),
    )  # fmt: skip


def _open_log(path: str) -> TextIO:
    """The JSON-lines log, its folder made if needed; closed by `run_live`'s `finally`."""
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        return p.open("w")
    except OSError as e:
        raise ActrecError(f"cannot write the log {p}: {e.strerror}") from None


def run_live(model: str | Path, opts: LiveOptions, echo=print) -> dict:
    """Label `opts.source` live until it ends, `duration` passes, q/Esc or Ctrl-C."""
    bundle = load_bundle(model)
    head, backbone = head_from_bundle(bundle), backbone_for_bundle(bundle, opts.device)
    if backbone.warning:
        echo(backbone.warning)
    headless = not has_display() if opts.headless is None else opts.headless
    if not headless:
        _qt_fonts()
    logf = _open_log(opts.log) if opts.log else None  # before the camera: a bad path fails fast
    try:
        grab = Grabber(opts.source, opts.realtime)
    except ActrecError:
        if logf:
            logf.close()
        raise
    s = bundle["sample"]
    k = lane_count(grab.fps, s["fps"], opts.mode, opts.lanes)
    score = Scorer(head, backbone, s["window"], opts.mode, k)
    smooth = Smoother(bundle["classes"], opts.smooth, opts.threshold, opts.topk)
    rate = k * s["fps"]  # frames per second handed to the head, dealt round the lanes
    writer = VideoOut(opts.out, grab.fps, grab.size) if opts.out else None
    echo(f"live: {opts.source} at {grab.fps:.1f} fps, {opts.mode} mode, {k} lane(s) of "
         f"{s['fps']:g} fps, {'headless' if headless else 'q or Esc quits'}")  # fmt: skip
    records: list[dict] = []
    stamps: deque[float] = deque(maxlen=30)
    shown, last_slot, latency, fps = (HIDDEN_LABEL, 0.0, []), -1, 0.0, 0.0
    start = time.perf_counter()
    try:
        while (frame := grab.read()) is not None:
            slot = math.floor(frame.t * rate + 1e-6)
            if slot > last_slot:  # a frame for the head; others are only shown
                last_slot = slot
                shown = smooth(score(frame.rgb, slot % k))
                stamps.append(now := time.perf_counter())
                fps = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0
                latency = now - frame.captured
                rec = dict(t=round(frame.t, 3), label=shown[0], score=round(shown[1], 4),
                           fps=round(fps, 2), latency_ms=round(latency * 1000, 1),
                           top=[[n, round(p, 4)] for n, p in shown[2]])  # fmt: skip
                records.append(rec)
                if logf:
                    logf.write(json.dumps(rec, ensure_ascii=False) + "\n")
            bgr = cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR)
            draw_overlay(bgr, shown, fps, latency, f"{k}x{s['fps']:g} fps {opts.mode}")
            if writer:
                writer.write(bgr, frame.t)
            if not headless:
                cv2.imshow("actrec live", bgr)
                if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                    break
            if opts.duration and time.perf_counter() - start >= opts.duration:
                break
    except KeyboardInterrupt:
        echo("live: interrupted; closing the outputs")
    finally:
        grab.close()
        if writer:
            writer.close()
        if logf:
            logf.close()
        if not headless:
            cv2.destroyAllWindows()
    if grab.error:
        raise ActrecError(grab.error)
    return _summary(records, grab, shown, time.perf_counter() - start)
