"""data: the balanced sampler evens out the classes a training epoch sees."""

from __future__ import annotations

from collections import Counter

import numpy as np

from actrec.data import SequenceDataModule


def test_balanced_sampler_draws_rare_classes_as_often_as_common_ones():
    labels = [0] * 90 + [1] * 10
    load = lambda i: np.zeros((4, 3), np.float16)  # noqa: E731
    seen = {}
    for sampler in ("shuffle", "balanced"):
        dm = SequenceDataModule({"train": (load, labels)}, window=4, batch=50, sampler=sampler)
        counts = Counter()
        for _ in range(10):
            for _, _, y in dm.train_dataloader():
                counts.update(y.tolist())
        seen[sampler] = counts[1] / sum(counts.values())
    assert seen["shuffle"] == 0.1  # every clip once per epoch
    assert 0.4 < seen["balanced"] < 0.6


def test_multi_clip_averages_k_evenly_spaced_windows():
    import torch

    from actrec.data import clip_starts
    from actrec.train import multi_clip

    assert clip_starts(30, 10, 3) == [0, 10, 20]
    assert clip_starts(8, 10, 3) == [0]  # shorter than a window: the whole video once
    assert clip_starts(30, 10, 1) == [10]  # one clip: the centre, as in the 1-clip test
    head = lambda x: x.mean(1)  # noqa: E731  (B, T, C) → (B, C) logits
    a = np.zeros((30, 2), np.float16)
    a[:10, 0] = 4.0  # class 0 shows only in the first window: the centre crop misses it
    b = np.zeros((30, 2), np.float16)
    b[:, 1] = 1.0
    m = multi_clip(head, [a, b], [0, 1], window=10, k=3, n_cls=2)
    p0 = (torch.softmax(torch.tensor([4.0, 0]), 0)[0] + 0.5 + 0.5) / 3
    assert p0 > 0.5 and m["test/acc_3clip"] == 1.0 and m["test/mean_class_acc_3clip"] == 1.0
