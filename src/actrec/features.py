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
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from actrec.errors import ActrecError
from actrec.people import NobodyFound
from actrec.video import fit_size, native_quiet, open_video, quiet_process, sampled_indices


class SequenceStream(Protocol):
    """One video's frames → its features, chunk by chunk (`FrameStream`, `PersonStream`)."""

    def push(self, frames: np.ndarray, times: np.ndarray, scale: float = 1.0) -> None:
        """(N, H, W, 3) RGB at `times`; `scale`: source pixels per frame pixel (the person
        stream's boxes are in source pixels; whole frames ignore it)."""

    def result(self) -> tuple[np.ndarray, np.ndarray, list[dict]]:
        """→ features (T, D), times (T,), tracks (the person stream's; [] for whole frames)."""


class Source(Protocol):
    """What turns frames into features: whole frames (`Backbone`) or people (`People`)."""

    feature_dim: int
    fingerprint: str

    @property
    def decode_size(self) -> tuple[int, bool]:
        """(size, keep_aspect): squares of `size`, or the long side at `size`."""

    def stream(self, fps: float) -> SequenceStream:
        """A stream for one video sampled at `fps` (the tracker's rate; whole frames ignore
        it)."""

    def describe(self) -> dict:
        """What a bundle and a cache manifest record about it."""


class ChunkStream(IterableDataset):
    """Yields decoded chunks of each video: dicts with `path`, `frames` (N, H, W, 3), `times`,
    `scale` (source pixels per frame pixel), `total` (sampled frames expected, 0 if unknown),
    `last`, and `error` on failure. Frames are `size` x `size`, or with their long side at `size`
    when `keep_aspect`. Worker k takes videos k, k + W, k + 2W, ..."""

    def __init__(
        self, paths: list[str], fps: float, size: int, chunk: int, keep_aspect: bool = False
    ) -> None:
        self.paths, self.fps, self.size, self.chunk = paths, fps, size, chunk
        self.keep_aspect = keep_aspect

    def __iter__(self) -> Iterator[dict]:
        info = get_worker_info()
        share = range(len(self.paths))
        if info is not None:
            share = share[info.id :: info.num_workers]
        for i in share:  # a decode process is quiet for good (`chunk_loader`)
            yield from self._video(self.paths[i])

    def _video(self, path: str) -> Iterator[dict]:
        empty = np.zeros((0, self.size, self.size, 3), np.uint8)
        try:
            with open_video(path) as src:
                fps, duration, n = src.fps, src.duration, src.n_frames
                total = len(sampled_indices(n, fps, self.fps)) if n else 0
                w, h = src.size
                size = fit_size((w, h), self.size) if self.keep_aspect else (self.size,) * 2
                chunks = src.chunks(self.fps, size, self.chunk)
                while True:
                    with native_quiet():  # a damaged file's FFmpeg lines, as when opening it
                        c = next(chunks, None)
                    if c is None:
                        break
                    yield dict(path=path, frames=c.frames, times=c.times, scale=w / size[0],
                               total=total, last=False)  # fmt: skip
        except Exception as e:  # ours, or a decoder's own exception types: report, keep going
            msg = str(e) if isinstance(e, ActrecError) else f"cannot decode {path}: {e}"
            yield dict(path=path, frames=empty, times=np.zeros(0), last=True, error=msg)
            return
        yield dict(path=path, frames=empty, times=np.zeros(0), last=True, fps=fps,
                   duration=duration)  # fmt: skip


def chunk_loader(stream: ChunkStream, workers: int, pin: bool = False) -> DataLoader:
    """The stream in `workers` decode processes (0: in this process), a few chunks ahead."""
    if "openvino" in sys.modules:
        # OpenVINO's thread pool (TBB) does not survive a fork: a decode process forked once it
        # had run crashed the parent one run in three; decoding here cost nothing measurable
        # beside it (vtest at 960: 55 s either way)
        workers = 0
    return DataLoader(stream, batch_size=None, num_workers=workers, pin_memory=pin,
                      prefetch_factor=4 if workers else None,
                      worker_init_fn=quiet_process if workers else None)  # fmt: skip


@dataclass
class VideoFeatures:
    """One video's features, or why it has none."""

    path: str
    feats: np.ndarray  # (T, D) float32
    times: np.ndarray  # (T,) seconds of each sampled frame
    fps: float = 0.0  # the video's native rate
    duration: float = 0.0  # seconds
    error: str = ""
    tracks: list[dict] = field(default_factory=list)  # the person stream: every track, main first
    nobody: bool = False  # the person stream found nobody (`error` says so)


class Assembler:
    """Chunks of (possibly interleaved) videos → each video's `VideoFeatures` once it is complete.

    `feed` runs the backbone on a chunk and returns None until a video's last item arrives.
    """

    def __init__(self, source: Source, fps: float) -> None:
        self.source, self.fps = source, fps
        self.streams: dict[str, SequenceStream] = {}

    def feed(self, item: dict) -> VideoFeatures | None:
        path = item["path"]
        if not item["last"]:
            stream = self.streams.setdefault(path, self.source.stream(self.fps))
            stream.push(np.asarray(item["frames"]), np.asarray(item["times"]), item["scale"])
            return None
        stream = self.streams.pop(path, None)
        empty = np.zeros((0, self.source.feature_dim), np.float32)
        if "error" in item:  # chunks that decoded before the failure are dropped
            return VideoFeatures(path, empty, np.zeros(0), error=item["error"])
        if stream is None:  # opened, but not one frame came out
            return VideoFeatures(path, empty, np.zeros(0), error=f"cannot decode {path}: no frames")
        try:
            feats, times, tracks = stream.result()
        except ActrecError as e:
            return VideoFeatures(
                path,
                empty,
                np.zeros(0),
                float(item["fps"]),
                item["duration"],
                error=f"{path}: {e}",
                nobody=isinstance(e, NobodyFound),
            )
        # a stream-like file does not say how many frames it has: it lasts to its last frame
        duration = item["duration"] or float(times[-1]) + 1 / max(item["fps"], 1e-6)
        return VideoFeatures(path, feats, times, float(item["fps"]), duration, tracks=tracks)


def chunks_for(source: Source, paths: list[str], fps: float, chunk: int = 32) -> ChunkStream:
    """The decoding `source` needs: squares for whole-frame features, the long side for people."""
    size, keep_aspect = source.decode_size
    return ChunkStream(paths, fps, size, chunk, keep_aspect)


def progress_bar(enabled: bool):
    """A rich progress bar, or a silent stand-in when `enabled` is false."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    cols = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn())
    return Progress(*cols, TimeRemainingColumn(), disable=not enabled)


def video_features(
    path: str, source: Source, fps: float, chunk: int = 32, workers: int = 1,
    progress: bool | None = None, nobody_ok: bool = False,
) -> VideoFeatures:  # fmt: skip
    """One video → its features; ActrecError when it cannot be decoded, or (unless `nobody_ok`:
    then `nobody` is set and the features are empty) when the person stream found nobody.

    `progress` (default: when stdout is a terminal) shows sampled frames done of the total.
    """
    show = sys.stdout.isatty() if progress is None else progress
    stream = chunks_for(source, [str(path)], fps, chunk)
    assembler = Assembler(source, fps)
    with progress_bar(show) as bar:
        task = bar.add_task("frames", total=None)
        for item in chunk_loader(stream, workers):
            bar.update(task, total=item.get("total") or None, advance=len(item["frames"]))
            if (done := assembler.feed(item)) is not None:
                break
    if done.error and not (done.nobody and nobody_ok):
        raise ActrecError(done.error)
    return done


def videos_features(
    paths: list[str], source: Source, fps: float, chunk: int = 32, workers: int = 1
) -> Iterator[VideoFeatures]:
    """Many videos → each one's features as soon as it is complete, in the order they finish:
    one decode process runs through all of them, a few chunks ahead, so it decodes the next
    video while this process runs the backbone on the last one (both cores busy, one fork for
    the folder). A video that fails comes out with its `error`; a person model's empty scene
    with `nobody` set."""
    assembler = Assembler(source, fps)
    for item in chunk_loader(chunks_for(source, paths, fps, chunk), workers):
        if (done := assembler.feed(item)) is not None:
            yield done


def check(paths: list[str], fps: float = 10.0, workers: int = 1, progress: bool = True) -> dict:
    """Decode every sampled frame of each video (tiny resize, no backbone); → {path: error}."""
    bad: dict[str, str] = {}
    with progress_bar(progress and bool(paths)) as bar:
        task = bar.add_task("check", total=len(paths))
        for item in chunk_loader(ChunkStream(paths, fps, size=32, chunk=64), workers):
            if "error" in item:
                bad[item["path"]] = item["error"]
            if item["last"]:
                bar.advance(task)
    return bad
