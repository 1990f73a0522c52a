"""Extraction driver: videos → (decode in worker processes) → backbone → feature cache.

Fifth stage of the flow: it drives `video`, `backbone` and `cache`. Lightning's `Trainer.predict`
runs it: DataLoader workers decode, sample and resize in bounded chunks while the process runs the
backbone, and a prediction writer stores each finished video atomically. With several devices or
nodes (DDP) each rank takes its own share of the videos. Videos already cached are skipped
(resume); a video that cannot be decoded is recorded as failed and reported, never fatal.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
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
    """Yields decoded chunks of each video: dicts with `path`, `frames` (N, S, S, 3),
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
                    yield dict(path=self.paths[i], frames=c.frames, prev=prev,
                               times=c.times, last=False)  # fmt: skip
                    prev = c.frames[-1]
        except Exception as e:  # ours, or a decoder's own exception types: report, keep going
            msg = str(e) if isinstance(e, ActrecError) else f"cannot decode {self.paths[i]}: {e}"
            yield dict(path=self.paths[i], frames=empty, prev=None, times=np.zeros(0),
                       last=True, error=msg)  # fmt: skip
            return
        end = dict(last=True, fps=fps, duration=duration)
        yield dict(path=self.paths[i], frames=empty, prev=None, times=np.zeros(0), **end)


def _progress(total: int, enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    cols = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn())
    return Progress(*cols, TimeRemainingColumn(), disable=not enabled or total == 0)


class _Extractor(L.LightningModule):
    """`Trainer.predict`'s view of the backbone: each rank decodes its own share of the videos
    (rank r takes videos r, r + R, ...) in DataLoader workers; a chunk in, its features out."""

    def __init__(self, backbone: Backbone, paths: list[str], fps: float, chunk: int, workers: int):
        super().__init__()
        self.backbone, self.paths, self.fps, self.chunk, self.workers = (
            backbone, paths, fps, chunk, workers
        )  # fmt: skip

    def share(self) -> list[str]:
        return self.paths[self.global_rank :: self.trainer.world_size]

    def setup(self, stage: str) -> None:
        if self.trainer.world_size > 1:  # one device per rank: cuda:<local rank>, or the CPU
            self.backbone.to(self.trainer.strategy.root_device)

    def predict_dataloader(self) -> DataLoader:
        stream = ChunkStream(self.share(), self.fps, self.backbone.settings.imgsz, self.chunk)
        return DataLoader(
            stream, batch_size=None, num_workers=self.workers,
            pin_memory=self.backbone.device.type == "cuda",
            prefetch_factor=4 if self.workers else None,
        )  # fmt: skip

    def transfer_batch_to_device(self, batch: dict, device: torch.device, idx: int) -> dict:
        return batch  # the backbone moves each batch of frames itself

    def predict_step(self, item: dict, batch_idx: int) -> np.ndarray | None:
        if "error" in item or item["last"]:
            return None
        prev = None if item["prev"] is None else np.asarray(item["prev"])
        return self.backbone.features(np.asarray(item["frames"]), prev)  # (N, D)


class _CacheWriter(BasePredictionWriter):
    """Collects each video's chunks and writes the video to the cache once its last one is in.
    Ranks hold disjoint shares, so no two ranks ever write the same file."""

    def __init__(self, cache: FeatureCache, progress: bool) -> None:
        super().__init__("batch")
        self.cache, self.progress = cache, progress
        self.parts: dict[str, list[np.ndarray]] = {}
        self.times: dict[str, list[np.ndarray]] = {}

    def on_predict_start(self, trainer: L.Trainer, module: _Extractor) -> None:
        share = len(module.share())
        self.bar = _progress(share, self.progress and trainer.is_global_zero)
        self.bar.start()
        what = "extract" if trainer.world_size == 1 else f"extract (rank 0 of {trainer.world_size})"
        self.task = self.bar.add_task(what, total=share)

    def write_on_batch_end(self, trainer, module, feats, indices, item, batch_idx, dl_idx) -> None:
        path = item["path"]
        if "error" in item:
            self.cache.put_failure(path, item["error"])
            self.parts.pop(path, None)  # chunks that decoded before the failure
            self.times.pop(path, None)
        elif not item["last"]:
            self.parts.setdefault(path, []).append(feats)
            self.times.setdefault(path, []).append(np.asarray(item["times"]))
        elif path not in self.parts:  # opened, but not one frame came out
            self.cache.put_failure(path, f"cannot decode {path}: no frames")
        else:
            feats, times = (
                np.concatenate(self.parts.pop(path)),
                np.concatenate(self.times.pop(path)),
            )
            self.cache.put(path, feats, item["fps"], times, rank=trainer.global_rank)
        if "error" in item or item["last"]:
            self.bar.advance(self.task)

    def on_predict_end(self, trainer: L.Trainer, module: _Extractor) -> None:
        self.bar.stop()
        trainer.strategy.barrier("extract")  # every share written before anyone reads the cache


def extract(
    paths: list[str],
    backbone: Backbone,
    cache: FeatureCache,
    fps: float = 10.0,
    chunk: int = 32,
    workers: int = 1,
    progress: bool = True,
    trainer: dict | None = None,
) -> Summary:
    """Fill `cache` with the features of `paths`; returns what was done, skipped and failed.

    `trainer` holds Lightning Trainer arguments (accelerator, devices, num_nodes, strategy):
    with several devices or nodes, each DDP rank extracts its own share of the videos. The
    summary is read back from the cache, so every rank reports the whole job.
    """
    cache.remove_partial()
    paths = list(dict.fromkeys(paths))  # unique, in order: every rank computes the same list
    before = {p: cache.entry(p) for p in paths}
    todo = [p for p, e in before.items() if e is None]
    if todo:
        quiet_lightning()
        writer = _CacheWriter(cache, progress)
        runner = L.Trainer(
            **(trainer or {}), logger=False, enable_checkpointing=False,
            enable_progress_bar=False, enable_model_summary=False, callbacks=[writer],
        )  # fmt: skip
        runner.predict(_Extractor(backbone, todo, fps, chunk, workers), return_predictions=False)
    else:
        log.info(f"all {len(paths)} videos already cached: no backbone work")
    summary = Summary()
    for p, e in before.items():
        after = e or cache.entry(p)
        if after is None or after.status != "ok":
            summary.failed[p] = after.error if after else "not extracted"
        elif e is None:
            summary.extracted += 1
        else:
            summary.cached += 1
    return summary


def quiet_lightning() -> None:
    # Lightning resets its loggers to INFO on import; its device banner and tips are noise here.
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # extraction's chunks are not batches of a sized dataset, and only the writer needs them
    warnings.filterwarnings("ignore", ".*infer the batch indices.*")
    warnings.filterwarnings("ignore", ".*predict returned None.*")


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
                bad[item["path"]] = item["error"]
            if item["last"]:
                bar.advance(task)
    return bad
