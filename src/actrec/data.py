"""Cached feature sequences → batches: the datasets and the LightningDataModule.

After `cache` in the flow. Training takes a random `window`-step crop of each video, validation
the centre crop (shorter videos are kept whole and padded, with their lengths, so the head ignores
the padding); the test set gives each video whole, cut into the windows `predict` scores.
Arrays stay memory-mapped until a crop is read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import lightning as L
import numpy as np
import torch
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler

from actrec.cache import FeatureCache
from actrec.catalog import Clip, Splits
from actrec.config import DataConfig
from actrec.errors import ActrecError
from actrec.head import cut_windows, window_starts

# (x (B, T, D), lengths (B,), labels (B,)) per train/val batch
Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class ArrayStore:
    """Sequences held in memory, read like the cache (`load(key)` → (T, D)): for features
    made on the fly, such as synthetic skeletons."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays

    def load(self, key: str) -> np.ndarray:
        return self.arrays[key]


@dataclass
class Split:
    """The usable videos of one split: the cache (or store) that holds them and their class ids."""

    cache: FeatureCache | ArrayStore | None = None
    paths: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)

    def load(self, i: int) -> np.ndarray:
        return self.cache.load(self.paths[i])  # memory-mapped (T, D) float16

    def __len__(self) -> int:
        return len(self.labels)


class SequenceDataset(Dataset):
    """Items `(x (T, D) float32, label)`: a random `window` crop (train) or the centre one.
    In training, `augment` (e.g. `pose.mirror`) is applied to half of the crops."""

    def __init__(
        self, split: Split, window: int, train: bool = False, seed: int = 0,
        augment: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:  # fmt: skip
        self.split, self.window, self.train, self.augment = split, window, train, augment
        self.rng = np.random.default_rng(seed) if train else None

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        arr = self.split.load(i)
        n = len(arr)
        if self.rng is not None:
            start = int(self.rng.integers(0, max(1, n - self.window + 1)))
        else:
            start = window_starts(n, self.window, count=1)[0]
        x = np.asarray(arr[start : start + self.window], dtype=np.float32)
        if self.augment is not None and self.rng is not None and self.rng.random() < 0.5:
            x = self.augment(x)
        return torch.from_numpy(x), self.split.labels[i]


class VideoWindows(Dataset):
    """Items `(windows (W, L, D), label (1,))`: each video whole, cut as `predict` cuts it (every
    `stride` steps), or into `count` evenly spaced clips (MMAction2's multi-view test)."""

    def __init__(self, split: Split, window: int, stride: int = 10, count: int | None = None):
        self.split, self.window, self.stride, self.count = split, window, stride, count

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        arr = self.split.load(i)
        starts = window_starts(len(arr), self.window, self.stride, self.count)
        return cut_windows(arr, self.window, starts), torch.tensor([self.split.labels[i]])


def pad_collate(items: list[tuple[torch.Tensor, int]]) -> Batch:
    """Zero-pad to the longest sequence; lengths say where each one ends."""
    xs, ys = zip(*items, strict=True)
    lengths = torch.tensor([len(x) for x in xs])
    x = torch.nn.utils.rnn.pad_sequence(list(xs), batch_first=True)  # (B, T, D)
    return x, lengths, torch.tensor(ys)


def class_weights(labels: list[int], num_classes: int) -> list[float]:
    """Inverse-frequency weights, mean 1 over the classes present."""
    counts = Counter(labels)
    w = np.array([1.0 / counts[c] if counts[c] else 0.0 for c in range(num_classes)])
    return (w * (w > 0).sum() / w.sum()).tolist()


class SequenceDataModule(L.LightningDataModule):
    """Train / val / test loaders over `Split`s; `clips` > 1 adds a K-clip test loader."""

    def __init__(
        self,
        splits: dict[str, Split],
        window: int = 32,
        batch: int = 32,
        workers: int = 0,
        sampler: str = "shuffle",  # shuffle | balanced (inverse-frequency weighted sampling)
        seed: int = 0,
        stride: int = 10,  # test windows, in sampled frames (predict's stride)
        clips: int = 1,
        augment: Callable[[np.ndarray], np.ndarray] | None = None,  # training crops only
    ) -> None:
        super().__init__()
        self.splits = {s: splits.get(s, Split()) for s in ("train", "val", "test")}
        self.window, self.batch, self.workers = window, batch, workers
        self.sampler, self.seed, self.stride, self.clips = sampler, seed, stride, clips
        self.augment = augment

    def _sampler(self, ds: Dataset, labels: list[int], train: bool):
        t = self.trainer
        if not train and t is not None and t.world_size > 1:
            # Lightning's default would repeat clips to even out the ranks: each exactly once
            return UnrepeatedDistributedSampler(ds, t.world_size, t.global_rank, shuffle=False)
        if train and self.sampler == "balanced":
            w = class_weights(labels, max(labels) + 1)
            return WeightedRandomSampler([w[y] for y in labels], len(labels), replacement=True)
        return None

    def _loader(self, ds: Dataset, labels: list[int], train: bool = False, **kw) -> DataLoader:
        sampler = self._sampler(ds, labels, train)
        return DataLoader(
            ds, shuffle=train and sampler is None, sampler=sampler, num_workers=self.workers,
            persistent_workers=self.workers > 0, **kw,
        )  # fmt: skip

    def _crops(self, stage: str, train: bool = False) -> DataLoader:
        split = self.splits[stage]
        ds = SequenceDataset(split, self.window, train, self.seed, self.augment if train else None)
        return self._loader(ds, split.labels, train, batch_size=self.batch, collate_fn=pad_collate)

    def train_dataloader(self) -> DataLoader:
        return self._crops("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._crops("val")

    def test_dataloader(self) -> list[DataLoader]:
        split = self.splits["test"]
        sets = [VideoWindows(split, self.window, self.stride)]
        if self.clips > 1:
            sets.append(VideoWindows(split, self.window, count=self.clips))
        return [self._loader(ds, split.labels, batch_size=None) for ds in sets]


def split_from_cache(clips: list[Clip], classes: list[str], cache: FeatureCache, ok: set[str]):
    """The clips whose features are in `ok` (extracted without error) → a `Split`."""
    usable = [c for c in clips if c.path in ok]
    return Split(cache, [c.path for c in usable], [classes.index(c.label) for c in usable])


def datamodule_from_cache(
    splits: Splits, cache: FeatureCache, ok: set[str], cfg: DataConfig, seed: int,
    stride: int, clips: int = 1, augment: Callable[[np.ndarray], np.ndarray] | None = None,
) -> SequenceDataModule:  # fmt: skip
    """The DataModule over the cached features of every split (`ok`: paths that decoded)."""
    parts = {s: split_from_cache(getattr(splits, s), splits.classes, cache, ok)
             for s in ("train", "val", "test")}  # fmt: skip
    if not parts["train"].labels:
        raise ActrecError("no training video could be decoded")
    return SequenceDataModule(parts, cfg.window, cfg.batch, cfg.workers, cfg.sampler, seed,
                              stride, clips, augment)  # fmt: skip
