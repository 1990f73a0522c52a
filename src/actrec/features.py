"""Whole videos through the backbone: decode in DataLoader workers, features per video.

Between `backbone` and `cache` in the flow: the one path from a video file to its `(T, D)`
features, used by extraction (`extract`), `predict` and `evaluate`. Worker processes decode, sample
and resize bounded chunks while the main process runs the backbone, so memory holds a few chunks
whatever the video's length. Chunks of several videos may arrive interleaved; `Assembler` keeps
one motion state and one list of parts per video and hands back each video once it is complete.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from actrec.backbone import Backbone, FrameStream
from actrec.errors import ActrecError
from actrec.video import open_video, sampled_indices


class ChunkStream(IterableDataset):
    """Yields decoded chunks of each video: dicts with `path`, `frames` (N, S, S, 3), `times`,
    `total` (sampled frames expected, 0 if unknown), `last`, and `error` on failure.
    Worker k takes videos k, k + W, k + 2W, ..."""

    def __init__(self, paths: list[str], fps: float, imgsz: int, chunk: int) -> None:
        self.paths, self.fps, self.imgsz, self.chunk = paths, fps, imgsz, chunk

    def __iter__(self) -> Iterator[dict]:
        info = get_worker_info()
        share = range(len(self.paths))
        if info is not None:
            share = share[info.id :: info.num_workers]
        for i in share:
            yield from self._video(self.paths[i])

    def _video(self, path: str) -> Iterator[dict]:
        empty = np.zeros((0, self.imgsz, self.imgsz, 3), np.uint8)
        try:
            with open_video(path) as src:
                fps, duration, n = src.fps, src.duration, src.n_frames
                total = len(sampled_indices(n, fps, self.fps)) if n else 0
                for c in src.chunks(self.fps, (self.imgsz, self.imgsz), self.chunk):
                    yield dict(path=path, frames=c.frames, times=c.times, total=total, last=False)
        except Exception as e:  # ours, or a decoder's own exception types: report, keep going
            msg = str(e) if isinstance(e, ActrecError) else f"cannot decode {path}: {e}"
            yield dict(path=path, frames=empty, times=np.zeros(0), last=True, error=msg)
            return
        yield dict(path=path, frames=empty, times=np.zeros(0), last=True, fps=fps,
                   duration=duration)  # fmt: skip


def chunk_loader(stream: ChunkStream, workers: int, pin: bool = False) -> DataLoader:
    """The stream in `workers` decode processes (0: in this process), a few chunks ahead."""
    return DataLoader(stream, batch_size=None, num_workers=workers, pin_memory=pin,
                      prefetch_factor=4 if workers else None)  # fmt: skip


@dataclass
class VideoFeatures:
    """One video's features, or why it has none."""

    path: str
    feats: np.ndarray  # (T, D) float32
    times: np.ndarray  # (T,) seconds of each sampled frame
    fps: float = 0.0  # the video's native rate
    duration: float = 0.0  # seconds
    error: str = ""


class Assembler:
    """Chunks of (possibly interleaved) videos → each video's `VideoFeatures` once it is complete.

    `feed` runs the backbone on a chunk and returns None until a video's last item arrives.
    """

    def __init__(self, backbone: Backbone) -> None:
        self.backbone = backbone
        self.streams: dict[str, FrameStream] = {}
        self.parts: dict[str, list[np.ndarray]] = {}
        self.times: dict[str, list[np.ndarray]] = {}

    def feed(self, item: dict) -> VideoFeatures | None:
        path = item["path"]
        if not item["last"]:
            stream = self.streams.setdefault(path, FrameStream(self.backbone))
            self.parts.setdefault(path, []).append(stream(np.asarray(item["frames"])))  # (N, D)
            self.times.setdefault(path, []).append(np.asarray(item["times"]))
            return None
        self.streams.pop(path, None)
        parts, times = self.parts.pop(path, []), self.times.pop(path, [])
        empty = np.zeros((0, self.backbone.feature_dim), np.float32)
        if "error" in item:  # chunks that decoded before the failure are dropped
            return VideoFeatures(path, empty, np.zeros(0), error=item["error"])
        if not parts:  # opened, but not one frame came out
            return VideoFeatures(path, empty, np.zeros(0), error=f"cannot decode {path}: no frames")
        t = np.concatenate(times)
        # a stream-like file does not say how many frames it has: it lasts to its last frame
        duration = item["duration"] or float(t[-1]) + 1 / max(item["fps"], 1e-6)
        return VideoFeatures(path, np.concatenate(parts), t, float(item["fps"]), duration)


def progress_bar(enabled: bool):
    """A rich progress bar, or a silent stand-in when `enabled` is false."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    cols = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn())
    return Progress(*cols, TimeRemainingColumn(), disable=not enabled)


def video_features(
    path: str, backbone: Backbone, fps: float, chunk: int = 32, workers: int = 1,
    progress: bool | None = None,
) -> VideoFeatures:  # fmt: skip
    """One video → its features; ActrecError when it cannot be decoded.

    `progress` (default: when stdout is a terminal) shows sampled frames done of the total.
    """
    show = sys.stdout.isatty() if progress is None else progress
    stream = ChunkStream([str(path)], fps, backbone.settings.imgsz, chunk)
    assembler = Assembler(backbone)
    with progress_bar(show) as bar:
        task = bar.add_task("frames", total=None)
        for item in chunk_loader(stream, workers):
            bar.update(task, total=item.get("total") or None, advance=len(item["frames"]))
            if (done := assembler.feed(item)) is not None:
                break
    if done.error:
        raise ActrecError(done.error)
    return done


def check(paths: list[str], fps: float = 10.0, workers: int = 1, progress: bool = True) -> dict:
    """Decode every sampled frame of each video (tiny resize, no backbone); → {path: error}."""
    bad: dict[str, str] = {}
    with progress_bar(progress and bool(paths)) as bar:
        task = bar.add_task("check", total=len(paths))
        for item in chunk_loader(ChunkStream(paths, fps, imgsz=32, chunk=64), workers):
            if "error" in item:
                bad[item["path"]] = item["error"]
            if item["last"]:
                bar.advance(task)
    return bad
