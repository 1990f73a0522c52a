"""Cached feature sequences → padded batches: `SequenceDataset` and the LightningDataModule.

Sixth stage of the flow (after `cache`). Training takes a random temporal crop of `window` steps
from each video, evaluation the centre crop; shorter videos are kept whole and padded, with their
lengths, so the head can ignore the padding. Arrays stay memory-mapped until a crop is read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import lightning as L
import numpy as np
import torch
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler

# (features (T, D) float32, label) per item; (x (B, T, D), lengths (B,), labels (B,)) per batch
Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def crop(n: int, window: int, rng: np.random.Generator | None) -> slice:
    """A `window`-long slice of `n` steps: random start with `rng`, centred without."""
    if n <= window:
        return slice(0, n)
    start = int(rng.integers(0, n - window + 1)) if rng is not None else (n - window) // 2
    return slice(start, start + window)


def clip_starts(n: int, window: int, k: int) -> list[int]:
    """Starts of `k` evenly spaced `window`-long windows over `n` steps (one when n <= window)."""
    if n <= window or k <= 1:
        return [max(0, (n - window) // 2)]
    return sorted({int(round(s)) for s in np.linspace(0, n - window, k)})


class SequenceDataset(Dataset):
    """Items `(x, label)` from `load(i)` → (T, D) arrays, cropped to `window` steps."""

    def __init__(
        self,
        load: Callable[[int], np.ndarray],
        labels: list[int],
        window: int,
        train: bool = False,
        seed: int = 0,
    ) -> None:
        self.load, self.labels, self.window, self.train = load, labels, window, train
        self.rng = np.random.default_rng(seed) if train else None

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        arr = self.load(i)  # memory-mapped (T, D) float16
        x = np.asarray(arr[crop(len(arr), self.window, self.rng)], dtype=np.float32)
        return torch.from_numpy(x), self.labels[i]


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
    """Train / val / test `SequenceDataset`s over one loader function per split."""

    def __init__(
        self,
        splits: dict[str, tuple[Callable[[int], np.ndarray], list[int]]],
        window: int = 32,
        batch: int = 32,
        workers: int = 0,
        sampler: str = "shuffle",  # shuffle | balanced (inverse-frequency weighted sampling)
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.splits, self.window, self.batch = splits, window, batch
        self.workers, self.sampler, self.seed = workers, sampler, seed

    def _loader(self, stage: str, train: bool = False) -> DataLoader:
        load, labels = self.splits[stage]
        ds = SequenceDataset(load, labels, self.window, train=train, seed=self.seed)
        sampler = None
        t = self.trainer
        if not train and t is not None and t.world_size > 1:
            # Lightning's default would repeat clips to even out the ranks: each exactly once
            sampler = UnrepeatedDistributedSampler(ds, t.world_size, t.global_rank, shuffle=False)
        if train and self.sampler == "balanced":
            w = class_weights(labels, max(labels) + 1)
            sampler = WeightedRandomSampler([w[y] for y in labels], len(labels), replacement=True)
        return DataLoader(
            ds, batch_size=self.batch, shuffle=train and sampler is None, sampler=sampler,
            num_workers=self.workers, collate_fn=pad_collate, drop_last=False,
            persistent_workers=self.workers > 0,
        )  # fmt: skip

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")
