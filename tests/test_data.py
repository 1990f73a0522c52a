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
