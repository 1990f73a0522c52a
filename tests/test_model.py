"""head and model: padding invariance, standardisation, windows, Lightning steps, the bundle."""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from actrec.bundle import head_from_bundle, load_bundle, make_bundle
from actrec.data import SequenceDataModule, Split
from actrec.errors import ActrecError
from actrec.head import (
    GRUHead,
    clip_standardise,
    score_windows,
    time_mask,
    video_label,
    window_starts,
)
from actrec.model import ActionClassifier


def test_padding_never_changes_a_prediction():
    torch.manual_seed(0)
    head = GRUHead(12, 4, hidden=8).eval()
    a, b = torch.randn(1, 7, 12), torch.randn(1, 11, 12)
    alone = torch.cat([head(a), head(b)])
    padded = torch.zeros(2, 11, 12)
    padded[0, :7], padded[1] = a[0], b[0]
    padded[0, 7:] = 1e3  # garbage in the padding must not leak in
    batched = head(padded, torch.tensor([7, 11]))
    assert torch.allclose(alone, batched, atol=1e-5)


def test_clip_standardise_is_per_clip_and_masked():
    x = torch.randn(2, 6, 5) * 3 + 10
    mask = time_mask(torch.tensor([6, 4]), 6)
    z = clip_standardise(x, mask)
    assert torch.allclose(z[0].mean(0), torch.zeros(5), atol=1e-5)
    assert torch.allclose(z[1, :4].mean(0), torch.zeros(5), atol=1e-5)
    assert (z[1, 4:] == 0).all()


@given(steps=st.integers(1, 400), window=st.integers(1, 64), stride=st.integers(1, 100))
def test_sliding_windows_cover_every_frame_and_end_at_the_end(steps, window, stride):
    starts = window_starts(steps, window, stride)
    covered = np.zeros(steps, bool)
    for s in starts:
        covered[s : s + window] = True
    assert covered.all()  # every frame is in some window
    assert starts[0] == 0 and min(starts[-1] + window, steps) == steps  # the last ends at the end
    assert starts == sorted(set(starts))
    assert all(b - a <= window for a, b in zip(starts, starts[1:], strict=False))  # no gap
    if steps <= window:
        assert starts == [0]  # a short video is one window, whole


@given(steps=st.integers(1, 400), window=st.integers(1, 64), count=st.integers(1, 12))
def test_evenly_spaced_clips_stay_inside_the_video(steps, window, count):
    starts = window_starts(steps, window, count=count)
    assert all(s >= 0 and s + min(window, steps) <= steps for s in starts)
    assert len(starts) <= count
    if steps > window and count > 1:
        assert starts[0] == 0 and starts[-1] == steps - window


def test_video_label_is_the_mean_of_window_probabilities():
    head = lambda x: x.mean(1)  # noqa: E731  (W, L, C) → (W, C) logits
    feats = np.zeros((30, 2), np.float32)
    feats[:10, 0] = 4.0  # class 0 only in the first window: the centre window misses it
    feats[10:, 1] = 1.0
    probs = score_windows(head, feats, 10, window_starts(30, 10, 10))
    assert probs.shape == (3, 2) and np.allclose(probs.sum(1), 1)
    want = (
        torch.softmax(torch.tensor([4.0, 0]), 0)[0]
        + 2 * torch.softmax(torch.tensor([0.0, 1]), 0)[0]
    ) / 3
    assert video_label(probs)[0] == pytest.approx(float(want), abs=1e-6)


def _toy_data(n: int = 40, classes: int = 4, steps: int = 6, dim: int = 8):
    """Sequences whose class is the feature that grows over time."""
    rng = np.random.default_rng(0)
    xs, ys = [], []
    for i in range(n):
        y = i % classes
        x = rng.standard_normal((steps, dim)).astype(np.float32) * 0.1
        x[:, y] += np.linspace(0, 3, steps)
        xs.append(x), ys.append(y)
    return xs, ys


class _ArraySplit(Split):
    def __init__(self, xs, ys):
        super().__init__(None, [str(i) for i in range(len(ys))], ys)
        self.xs = xs

    def load(self, i: int) -> np.ndarray:
        return self.xs[i]


def test_action_classifier_trains_validates_and_tests_through_lightning():
    L.seed_everything(0, verbose=False)
    xs, ys = _toy_data()
    split = _ArraySplit(xs, ys)
    dm = SequenceDataModule({"train": split, "val": split, "test": split}, window=6, batch=8,
                            stride=2, clips=2)  # fmt: skip
    model = ActionClassifier(8, ["a", "b", "c", "d"], hidden=16, dropout=0.0, lr=1e-2)
    quick = L.Trainer(fast_dev_run=True, logger=False, enable_progress_bar=False,
                      enable_model_summary=False)  # fmt: skip
    quick.fit(model, dm)  # training_step, validation_step and configure_optimizers run once
    assert quick.callback_metrics["train/loss"] > 0
    trainer = L.Trainer(max_epochs=40, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)  # fmt: skip
    trainer.fit(model, dm)
    assert trainer.callback_metrics["val/acc"] == 1.0
    res = {k: v for r in trainer.test(model, dm, verbose=False) for k, v in r.items()}
    assert res["test/acc"] == 1.0 and res["test/acc_2clip"] == 1.0
    assert model.confusion.compute().trace() == len(ys)  # every video counted once


def test_bundle_round_trip_with_weights_only(tmp_path):
    model = ActionClassifier(6, ["run", "walk"], hidden=8).eval()
    backbone = dict(fingerprint="fp", settings={}, warning="", pretrained=False, feature_dim=6)
    path = tmp_path / "model.pt"
    torch.save(model.to_bundle(backbone, dict(fps=10.0, window=4), {"stride": 1.0}), path)
    bundle = torch.load(path, weights_only=True)  # no pickled code inside
    head = head_from_bundle(load_bundle(path))
    x = torch.randn(3, 4, 6)
    assert torch.equal(head(x), model.head(x))
    assert bundle["classes"] == ["run", "walk"]
    assert ActionClassifier.from_bundle(bundle).eval().head(x).allclose(head(x))


def test_a_bundle_of_an_older_layout_asks_for_retraining(tmp_path):
    bundle = make_bundle(GRUHead(6, 2, hidden=8), ["run", "walk"], {}, {}, {})
    bundle["format"] = "actrec-bundle-2"
    torch.save(bundle, tmp_path / "old.pt")
    with pytest.raises(ActrecError, match="actrec-bundle-2 bundle.*retrain"):
        load_bundle(tmp_path / "old.pt")


def test_center_keeps_how_much_a_feature_moves_standardise_does_not():
    x = torch.randn(1, 6, 4)
    mask = time_mask(torch.tensor([6]), 6)
    big = x * 3 + 1  # the same motion, three times larger, elsewhere
    assert torch.allclose(clip_standardise(big, mask), clip_standardise(x, mask), atol=1e-4)
    centred = clip_standardise(big, mask, scale=False)
    assert torch.allclose(centred, 3 * clip_standardise(x, mask, scale=False), atol=1e-4)
    assert torch.allclose(centred.mean(1), torch.zeros(1, 4), atol=1e-5)


def test_top5_is_not_merged_with_top1_when_their_first_updates_agree():
    """torchmetrics merges metrics whose states match after the first update (compute groups):
    top-5 then reported top-1 for the rest of the run."""
    from actrec.model import _metrics

    m = _metrics(9, "test")
    first = torch.zeros(1, 9)
    first[0, 0] = 1
    m.update(first, torch.tensor([0]))  # right: top-1 and top-5 states agree
    m.update(torch.linspace(1, 0, 9)[None], torch.tensor([2]))  # third choice: top-5 only
    out = {k: float(v) for k, v in m.compute().items()}
    assert out["test/acc"] == 0.5 and out["test/top5"] == 1.0


def test_an_ensemble_bundle_averages_its_heads_probabilities(tmp_path):
    """Heads of other seeds ship in one bundle (`members`): the head `predict` loads gives the
    mean of their probabilities, and `train.init` still starts from the first one's weights."""
    from actrec.head import HeadEnsemble
    from actrec.synthetic.builtin import ensemble

    paths, heads = [], []
    for seed in range(3):
        torch.manual_seed(seed)
        head = GRUHead(6, 3, hidden=8).eval()
        record = {"options": {"seed": seed}, "synthetic_test": {}}
        b = make_bundle(head, ["a", "b", "c"], {"fingerprint": "f"}, {"fps": 10, "window": 4},
                        {"stride": 1.0}, builtin=record)  # fmt: skip
        torch.save(b, tmp_path / f"{seed}.pt")
        paths.append(tmp_path / f"{seed}.pt")
        heads.append(head)
    ensemble(paths, tmp_path / "e.pt")
    bundle = load_bundle(tmp_path / "e.pt")
    both = head_from_bundle(bundle)
    assert isinstance(both, HeadEnsemble) and len(both.heads) == 3
    x = torch.randn(5, 4, 6)
    with torch.no_grad():
        want = torch.stack([torch.softmax(h(x), -1) for h in heads]).mean(0)
        assert torch.allclose(torch.softmax(both(x), -1), want, atol=1e-6)
    assert torch.equal(bundle["state_dict"]["gru.weight_hh_l0"], heads[0].gru.weight_hh_l0)
