"""Extraction driver: videos → (decode in worker processes) → backbone → feature cache.

Fifth stage of the flow: it drives `video`, `backbone` and `cache`. DataLoader workers decode,
sample and resize in bounded chunks while the main process runs the backbone; each finished video
is written atomically. Videos already cached are skipped (resume); a video that cannot be decoded
is recorded as failed and reported at the end, never fatal.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from actrec.backbone import Backbone
from actrec.cache import FeatureCache
from actrec.errors import ActrecError
from actrec.video import open_video

log = logging.getLogger("actrec")


@dataclass
class Summary:
    extracted: int = 0  # videos run through the backbone now
    cached: int = 0  # videos found in the cache
    failed: dict[str, str] = field(default_factory=dict)  # path → error

    def line(self) -> str:
        return f"extracted {self.extracted}, cached {self.cached}, failed {len(self.failed)}"


class ChunkStream(IterableDataset):
    """Yields decoded chunks of each video: dicts with `video` (index), `frames` (N, S, S, 3),
    `prev` (the frame before, for the motion stream), `times`, `last`, and `error` on failure.
    Worker k takes videos k, k + W, k + 2W, ..."""

    def __init__(self, paths: list[str], fps: float, imgsz: int, chunk: int) -> None:
        self.paths, self.fps, self.imgsz, self.chunk = paths, fps, imgsz, chunk

    def __iter__(self) -> Iterator[dict]:
        info = get_worker_info()
        share = range(len(self.paths))
        if info is not None:
            share = share[info.id :: info.num_workers]
        for i in share:
            yield from self._video(i)

    def _video(self, i: int) -> Iterator[dict]:
        empty = np.zeros((0, self.imgsz, self.imgsz, 3), np.uint8)
        prev = None
        try:
            with open_video(self.paths[i]) as src:
                fps, duration = src.fps, src.duration
                for c in src.chunks(self.fps, (self.imgsz, self.imgsz), self.chunk):
                    yield dict(video=i, frames=c.frames, prev=prev, times=c.times, last=False)
                    prev = c.frames[-1]
        except Exception as e:  # ours, or a decoder's own exception types: report, keep going
            msg = str(e) if isinstance(e, ActrecError) else f"cannot decode {self.paths[i]}: {e}"
            yield dict(video=i, frames=empty, prev=None, times=np.zeros(0), last=True, error=msg)
            return
        end = dict(last=True, fps=fps, duration=duration)
        yield dict(video=i, frames=empty, prev=None, times=np.zeros(0), **end)


def _progress(total: int, enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    cols = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn())
    return Progress(*cols, TimeRemainingColumn(), disable=not enabled or total == 0)


def extract(
    paths: list[str],
    backbone: Backbone,
    cache: FeatureCache,
    fps: float = 10.0,
    chunk: int = 32,
    workers: int = 1,
    progress: bool = True,
) -> Summary:
    """Fill `cache` with the features of `paths`; returns what was done, skipped and failed."""
    summary = Summary()
    cache.remove_partial()
    todo = []
    for p in dict.fromkeys(paths):  # unique, in order
        e = cache.entry(p)
        if e is None:
            todo.append(p)
        elif e.status == "ok":
            summary.cached += 1
        else:
            summary.failed[p] = e.error
    if not todo:
        log.info(f"all {len(paths)} videos already cached: no backbone work")
        return summary
    stream = ChunkStream(todo, fps, backbone.settings.imgsz, chunk)
    loader = DataLoader(
        stream, batch_size=None, num_workers=workers, persistent_workers=False,
        pin_memory=backbone.device.type == "cuda", prefetch_factor=4 if workers else None,
    )  # fmt: skip
    parts: dict[int, list[np.ndarray]] = {}
    times: dict[int, list[np.ndarray]] = {}
    with _progress(len(todo), progress) as bar, torch.inference_mode():
        task = bar.add_task("extract", total=len(todo))
        for item in loader:
            i = item["video"]
            if "error" in item:
                cache.put_failure(todo[i], item["error"])
                summary.failed[todo[i]] = item["error"]
                parts.pop(i, None), times.pop(i, None)
                bar.advance(task)
            elif not item["last"]:
                prev = item["prev"]
                prev = None if prev is None else np.asarray(prev)
                feats = backbone.features(np.asarray(item["frames"]), prev)  # (N, D)
                parts.setdefault(i, []).append(feats)
                times.setdefault(i, []).append(np.asarray(item["times"]))
            else:
                cache.put(
                    todo[i], np.concatenate(parts.pop(i)), item["fps"], np.concatenate(times.pop(i))
                )
                summary.extracted += 1
                bar.advance(task)
    return summary


def report(summary: Summary, echo=print) -> None:
    """The closing lines of a batch job: failures, one per line, then the summary."""
    for path, err in summary.failed.items():
        echo(f"  skipped {path}: {err}")
    echo(summary.line())


def check(paths: list[str], fps: float = 10.0, workers: int = 1, progress: bool = True) -> dict:
    """Decode every sampled frame of each video (tiny resize, no backbone); → {path: error}."""
    stream = ChunkStream(paths, fps, imgsz=32, chunk=64)
    loader = DataLoader(stream, batch_size=None, num_workers=workers)
    bad: dict[str, str] = {}
    with _progress(len(paths), progress) as bar:
        task = bar.add_task("check", total=len(paths))
        for item in loader:
            if "error" in item:
                bad[paths[item["video"]]] = item["error"]
            if item["last"]:
                bar.advance(task)
    return bad
