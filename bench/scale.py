"""Scale benchmark: training on 10,000 cached sequences of 300 frames stays bounded in memory.

Writes random float16 arrays through `FeatureCache.put` (the real cache format: one .npy and one
sidecar per video, keyed by a placeholder source file), then trains the default GRU head for one
epoch through `SequenceDataModule` and Lightning, as `actrec train` does, and reports samples/s
and the process's peak resident memory (VmHWM). Made once under data/bench/scale/, then reused.

    python bench/scale.py [--videos 10000] [--frames 300] [--epochs 1]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import lightning as L
import numpy as np

os.environ.setdefault("YOLO_OFFLINE", "True")
ROOT = Path("data/bench/scale")


def peak_rss_gib() -> float:
    return int(Path("/proc/self/status").read_text().split("VmHWM:")[1].split()[0]) / 2**20


def build(videos: int, frames: int, dim: int, classes: int):
    from actrec.cache import FeatureCache

    src = ROOT / "sources"
    src.mkdir(parents=True, exist_ok=True)
    cache = FeatureCache(ROOT / "cache", f"scale-d{dim}", 10.0)
    rng = np.random.default_rng(0)
    paths, t = [], time.perf_counter()
    for i in range(videos):
        p = src / f"v{i:05d}.mp4"
        if not p.exists():
            p.touch()
        paths.append(str(p))
        if cache.entry(str(p)) is None:
            x = rng.standard_normal((frames, dim), dtype=np.float32)
            cache.put(str(p), x, 10.0, np.arange(frames) / 10.0)
    labels = [i % classes for i in range(videos)]
    return cache, paths, labels, time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--videos", type=int, default=10_000)
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--dim", type=int, default=768, help="feature size (default features: 768)")
    p.add_argument("--classes", type=int, default=101)
    p.add_argument("--epochs", type=int, default=1)
    a = p.parse_args()
    from actrec.data import SequenceDataModule, Split
    from actrec.extract import quiet_lightning
    from actrec.model import ActionClassifier

    cache, paths, labels, made = build(a.videos, a.frames, a.dim, a.classes)
    size = sum(Path(cache.array_path(q)).stat().st_size for q in paths) / 2**30
    print(f"cache: {a.videos} sequences of {a.frames} x {a.dim} float16, {size:.1f} GiB on disk "
          f"({made:.0f} s to write)")  # fmt: skip
    quiet_lightning()  # no banners between the results
    warnings.filterwarnings("ignore", module="lightning")
    train = Split(cache, paths, labels)  # memory-mapped, as in training
    dm = SequenceDataModule({"train": train}, window=32, batch=32, workers=0)
    model = ActionClassifier(a.dim, [f"c{k}" for k in range(a.classes)])
    trainer = L.Trainer(max_epochs=a.epochs, accelerator="cpu", logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0)  # fmt: skip
    before = peak_rss_gib()
    t = time.perf_counter()
    trainer.fit(model, datamodule=dm)
    wall = time.perf_counter() - t
    print(
        f"train: {a.epochs} epoch(s), {a.videos * a.epochs / wall:.0f} samples/s, "
        f"{wall:.1f} s; peak RSS {peak_rss_gib():.2f} GiB (before training {before:.2f} GiB)"
    )


if __name__ == "__main__":
    main()
