"""data: the balanced sampler evens out the classes; the test set gives whole videos as windows."""

from __future__ import annotations

from collections import Counter

import numpy as np

from actrec.data import SequenceDataModule, Split, VideoWindows


class _Zeros(Split):
    def __init__(self, labels: list[int], steps: int = 4) -> None:
        super().__init__(None, [str(i) for i in range(len(labels))], labels)
        self.steps = steps

    def load(self, i: int) -> np.ndarray:
        return np.full((self.steps, 3), i, np.float16)


def test_balanced_sampler_draws_rare_classes_as_often_as_common_ones():
    labels = [0] * 90 + [1] * 10
    shuffled = SequenceDataModule({"train": _Zeros(labels)}, window=4, batch=50)
    ids = [int(i) for x, _, _ in shuffled.train_dataloader() for i in x[:, 0, 0]]
    assert sorted(ids) == list(range(100)) and ids != sorted(ids)  # each clip once, shuffled
    balanced = SequenceDataModule({"train": _Zeros(labels)}, window=4, batch=50, sampler="balanced")
    counts = Counter()
    for _ in range(10):
        for _, _, y in balanced.train_dataloader():
            counts.update(y.tolist())
    assert 0.4 < counts[1] / sum(counts.values()) < 0.6


def test_test_items_are_whole_videos_cut_like_predict():
    split = _Zeros([0, 1], steps=25)
    windows, label = VideoWindows(split, window=10, stride=5)[1]
    assert windows.shape == (4, 10, 3) and label.tolist() == [1]  # starts 0, 5, 10, 15
    clips, _ = VideoWindows(split, window=10, count=3)[0]
    assert clips.shape == (3, 10, 3)
    short, _ = VideoWindows(_Zeros([0], steps=6), window=10, stride=5)[0]
    assert short.shape == (1, 6, 3)  # shorter than a window: the whole video once
