"""Extraction driver: videos → features (`features`) → the feature cache, run by Lightning.

After `features` and `cache` in the flow. `Trainer.predict` runs it: DataLoader workers decode
while the process runs the backbone, and a prediction writer stores each finished video atomically.
With several devices or nodes (DDP) each rank takes its own share of the videos. Videos already
cached are skipped (resume); a video that cannot be decoded is recorded as failed and reported,
never fatal. `extract_dataset` adds the manifest for a whole dataset.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from lightning.pytorch.utilities import rank_zero_only
from torch.utils.data import DataLoader

from actrec.backbone import Backbone
from actrec.cache import FeatureCache
from actrec.config import Config
from actrec.errors import ActrecError
from actrec.features import Assembler, Source, VideoFeatures, chunk_loader, chunks_for, progress_bar
from actrec.people import People, pose_backbone

log = logging.getLogger("actrec")


@dataclass
class Summary:
    extracted: int = 0  # videos run through the backbone now
    cached: int = 0  # videos found in the cache
    failed: dict[str, str] = field(default_factory=dict)  # path → error
    ok: set[str] = field(default_factory=set)  # paths whose features are in the cache

    def line(self) -> str:
        return f"extracted {self.extracted}, cached {self.cached}, failed {len(self.failed)}"


class _Extractor(L.LightningModule):
    """`Trainer.predict`'s view of the backbone: each rank decodes its own share of the videos
    (rank r takes videos r, r + R, ...) in DataLoader workers; a chunk in, a finished video out."""

    def __init__(self, source: Source, paths: list[str], fps: float, chunk: int, workers: int):
        super().__init__()
        self.source, self.paths, self.fps, self.chunk, self.workers = (
            source, paths, fps, chunk, workers
        )  # fmt: skip
        self.backbone: Backbone = source.backbone
        self.assembler = Assembler(source, fps)

    def share(self) -> list[str]:
        return self.paths[self.global_rank :: self.trainer.world_size]

    def setup(self, stage: str) -> None:
        if self.trainer.world_size > 1:  # one device per rank: cuda:<local rank>, or the CPU
            self.backbone.to(self.trainer.strategy.root_device)

    def predict_dataloader(self) -> DataLoader:
        stream = chunks_for(self.source, self.share(), self.fps, self.chunk)
        return chunk_loader(stream, self.workers, pin=self.backbone.device.type == "cuda")

    def transfer_batch_to_device(self, batch: dict, device: torch.device, idx: int) -> dict:
        return batch  # the backbone moves each batch of frames itself

    def predict_step(self, item: dict, batch_idx: int) -> VideoFeatures | None:
        return self.assembler.feed(item)


class _CacheWriter(BasePredictionWriter):
    """Writes each finished video to the cache. Ranks hold disjoint shares, so no two ranks ever
    write the same file."""

    def __init__(self, cache: FeatureCache, progress: bool) -> None:
        super().__init__("batch")
        self.cache, self.progress = cache, progress

    def on_predict_start(self, trainer: L.Trainer, module: _Extractor) -> None:
        share = len(module.share())
        self.bar = progress_bar(self.progress and trainer.is_global_zero and share > 0)
        self.bar.start()
        what = "extract" if trainer.world_size == 1 else f"extract (rank 0 of {trainer.world_size})"
        self.task = self.bar.add_task(what, total=share)

    def write_on_batch_end(self, trainer, module, video, indices, item, batch_idx, dl_idx) -> None:
        if video is None:
            return
        if video.error:
            self.cache.put_failure(video.path, video.error)
        else:
            self.cache.put(video.path, video.feats, video.fps, video.times, trainer.global_rank)
        self.bar.advance(self.task)

    def on_predict_end(self, trainer: L.Trainer, module: _Extractor) -> None:
        self.bar.stop()
        trainer.strategy.barrier("extract")  # every share written before anyone reads the cache


def extract(
    paths: list[str],
    source: Source,
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
        runner.predict(_Extractor(source, todo, fps, chunk, workers), return_predictions=False)
    else:
        log.info(f"all {len(paths)} videos already cached: no backbone work")
    summary = Summary()
    for p, e in before.items():
        after = e or cache.entry(p)  # each sidecar read once more, after extraction, at most
        if after is None or after.status != "ok":
            summary.failed[p] = after.error if after else "not extracted"
            continue
        summary.ok.add(p)
        if e is None:
            summary.extracted += 1
        else:
            summary.cached += 1
    return summary


def feature_source(cfg: Config) -> Source:
    """What a config's features come from: the backbone's whole frames, or its tracked people
    (on pose weights, whatever `features.weights=auto` finds for whole frames)."""
    runtime = cfg.features.runtime
    if not cfg.people.enabled:
        if runtime != "torch":
            raise ActrecError(
                "features.runtime covers the pose model of the person stream "
                "(people.enabled=true); whole frames are extracted in torch"
            )
        return Backbone(cfg.features)
    people = People(pose_backbone(cfg.features), cfg.people)
    if runtime != "torch":  # ultralytics' export of the pose weights, made once per weights
        people.use_runtime(runtime, people.exported(runtime, Path(cfg.cache_dir) / "exports"))
    return people


def extract_dataset(cfg: Config, paths: list[str], source: Source, echo=print):
    """Fill the cache for a dataset, write its manifest, report; → (cache, summary)."""
    cache = FeatureCache(cfg.cache_dir, source.cache_key, cfg.sample.fps)
    s = cfg.sample
    summary = extract(paths, source, cache, s.fps, s.chunk, s.workers,
                      trainer=asdict(cfg.trainer))  # fmt: skip
    if rank_zero_only.rank == 0:  # every rank's sidecars are in by now (extract's barrier)
        cache.write_manifest({"backbone": source.describe(), "sample": asdict(cfg.sample)})
    report(summary, echo)
    return cache, summary


def quiet_lightning() -> None:
    """Lightning resets its loggers to INFO on import; its device banner and tips are noise here."""
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # extraction's chunks are not batches of a sized dataset, and only the writer needs them
    warnings.filterwarnings("ignore", ".*infer the batch indices.*")
    warnings.filterwarnings("ignore", ".*predict returned None.*")
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*LeafSpec.*")


def report(summary: Summary, echo=print) -> None:
    """The closing lines of a batch job: failures, one per line, then the summary."""
    for path, err in summary.failed.items():
        echo(f"  skipped {path}: {err}")
    echo(summary.line())
