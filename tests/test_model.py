"""model: padding invariance, clip standardisation, Lightning step, the bundle round trip."""

from __future__ import annotations

import pytest
import torch

from actrec.errors import ActrecError
from actrec.model import (
    ActionClassifier,
    GRUHead,
    clip_standardise,
    head_from_bundle,
    load_bundle,
    make_bundle,
    time_mask,
)


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


def test_training_step_logs_and_learns():
    torch.manual_seed(0)
    model = ActionClassifier(6, ["a", "b", "c", "d", "e"], hidden=16, dropout=0.0)
    x = torch.randn(10, 5, 6)
    y = torch.arange(10) % 5
    x[torch.arange(10), :, y] += torch.linspace(0, 3, 5)  # class = the feature that grows
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(model(x, torch.full((10,), 5)), y)
        opt.zero_grad(), loss.backward(), opt.step()
    assert (model(x).argmax(1) == y).float().mean() == 1.0
    assert set(model.test_metrics.keys(keep_base=False)) >= {"test/acc", "test/top5"}


def test_bundle_round_trip_with_weights_only(tmp_path):
    model = ActionClassifier(6, ["run", "walk"], hidden=8).eval()
    backbone = dict(fingerprint="fp", settings={}, warning="", pretrained=False, feature_dim=6)
    path = tmp_path / "model.pt"
    torch.save(
        make_bundle(model, backbone, dict(fps=10.0, chunk=8, window=4), {"stride": 1.0}), path
    )
    bundle = torch.load(path, weights_only=True)  # no pickled code inside
    head = head_from_bundle(load_bundle(path))
    x = torch.randn(3, 4, 6)
    assert torch.equal(head(x), model.head(x))
    assert bundle["classes"] == ["run", "walk"]


def test_a_bundle_of_an_older_head_layout_asks_for_retraining(tmp_path):
    model = ActionClassifier(6, ["run", "walk"], hidden=8)
    bundle = make_bundle(model, {}, dict(fps=10.0, chunk=8, window=4), {"stride": 1.0})
    bundle["format"] = "actrec-bundle-1"
    torch.save(bundle, tmp_path / "old.pt")
    with pytest.raises(ActrecError, match="actrec-bundle-1 bundle.*retrain"):
        load_bundle(tmp_path / "old.pt")
