"""The classifier: `GRUHead` (plain nn.Module) and `ActionClassifier` (its LightningModule).

Seventh stage of the flow (after `data`). The head standardises each clip's features over time
(untrained-backbone features are useless without it), projects them, runs a GRU, pools the outputs
over the valid steps only (padding never changes a prediction) and classifies. The
LightningModule takes plain hyperparameters, so a checkpoint alone rebuilds it.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
)

from actrec.backbone import Backbone, FeatureSettings
from actrec.errors import ActrecError


def time_mask(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """(B,) lengths → (B, T) bool, True on valid steps."""
    return torch.arange(steps, device=lengths.device)[None] < lengths[:, None]


def clip_standardise(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Subtract each clip's mean over valid steps and divide by its std, per feature.

    The floor (a tenth of the clip's mean std) keeps near-constant features from being blown
    up into pure quantisation noise.
    """
    m = mask[..., None].to(x.dtype)  # (B, T, 1)
    n = m.sum(1, keepdim=True).clamp(min=1)
    mean = (x * m).sum(1, keepdim=True) / n  # (B, 1, D)
    var = (((x - mean) * m) ** 2).sum(1, keepdim=True) / n
    std = var.sqrt()
    floor = 0.1 * std.mean(-1, keepdim=True) + 1e-6
    return (x - mean) / (std + floor) * m


class GRUHead(nn.Module):
    """(B, T, D) features + (B,) lengths → (B, C) logits."""

    def __init__(
        self,
        in_dim: int,
        num_classes: int,
        hidden: int = 128,
        layers: int = 1,
        dropout: float = 0.3,
        clip_norm: bool = True,
    ) -> None:
        super().__init__()
        self.clip_norm = clip_norm
        self.norm = nn.LayerNorm(in_dim)
        # drops whole features of a clip (all its steps): one random draw per clip and feature,
        # where element dropout on (B, T, D) spent a third of each training step drawing numbers
        self.feature_drop = nn.Dropout1d(dropout)
        self.proj = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU())
        self.gru = nn.GRU(hidden, hidden, layers, batch_first=True, dropout=dropout * (layers > 1))
        self.classify = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * hidden, num_classes))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        b, t, _ = x.shape
        if lengths is None:
            lengths = torch.full((b,), t, device=x.device)
        mask = time_mask(lengths, t)  # (B, T)
        if self.clip_norm:
            x = clip_standardise(x, mask)
        h = self.embed(x)  # (B, T, H)
        packed = nn.utils.rnn.pack_padded_sequence(
            h, lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        out, _ = self.gru(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=t)
        return self.pool_classify(out, mask)

    def step(
        self, z: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One streaming step: an already normalised (B, D) frame → GRU output (B, H), new state.

        Stepping through a sequence equals `forward`'s GRU pass on it; `live` calls this once
        per sampled frame instead of re-running a whole window.
        """
        out, state = self.gru(self.embed(z[:, None]), state)  # (B, 1, H)
        return out[:, 0], state

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised features (B, T, D) → GRU inputs (B, T, H)."""
        x = self.feature_drop(self.norm(x).transpose(1, 2)).transpose(1, 2)  # over (B, D, T)
        return self.proj(x)

    def pool_classify(self, out: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """GRU outputs (B, T, H) over the valid steps of `mask` (B, T) → (B, C) logits."""
        m = mask[..., None]  # (B, T, 1)
        mean = (out * m).sum(1) / m.sum(1).clamp(min=1)
        peak = out.masked_fill(~m, float("-inf")).amax(1)
        return self.classify(torch.cat([mean, peak], 1))  # (B, C)


def _metrics(num_classes: int, stage: str) -> MetricCollection:
    m = {
        "acc": MulticlassAccuracy(num_classes, average="micro"),
        "mean_class_acc": MulticlassAccuracy(num_classes, average="macro"),
        "f1": MulticlassF1Score(num_classes, average="macro"),
    }
    if num_classes >= 5:
        m["top5"] = MulticlassAccuracy(num_classes, top_k=5, average="micro")
    return MetricCollection(m, prefix=f"{stage}/")


class ActionClassifier(L.LightningModule):
    """Trains a `GRUHead` with one shared step; logs `train/loss`, `val/acc`, `test/f1`, ..."""

    def __init__(
        self,
        in_dim: int,
        classes: list[str],
        hidden: int = 128,
        layers: int = 1,
        dropout: float = 0.3,
        clip_norm: bool = True,
        lr: float = 3e-3,
        weight_decay: float = 0.01,
        label_smoothing: float = 0.1,
        class_weights: list[float] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        n = len(classes)
        self.head = GRUHead(in_dim, n, hidden, layers, dropout, clip_norm)
        self.register_buffer("class_w", torch.tensor(class_weights or [1.0] * n))
        # one collection per stage, so train and val counts never mix
        self.train_metrics = _metrics(n, "train")
        self.val_metrics = _metrics(n, "val")
        self.test_metrics = _metrics(n, "test")
        self.confusion = MulticlassConfusionMatrix(n)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(x, lengths)

    def _step(self, batch, stage: str) -> torch.Tensor:
        x, lengths, y = batch
        logits = self(x, lengths)
        loss = F.cross_entropy(
            logits, y, weight=self.class_w, label_smoothing=self.hparams.label_smoothing
        )
        metrics = getattr(self, f"{stage}_metrics")
        metrics.update(logits, y)
        if stage == "test":
            self.confusion.update(logits, y)
        on_step = stage == "train"
        # sync_dist: the mean over every DDP rank (a no-op on one device)
        self.log(f"{stage}/loss", loss, on_epoch=True, on_step=False, prog_bar=on_step,
                 sync_dist=True)  # fmt: skip
        self.log_dict(metrics, on_step=False, on_epoch=True, prog_bar=not on_step)
        return loss

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "test")

    def configure_optimizers(self):
        opt = torch.optim.AdamW(
            self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay
        )
        steps = self.trainer.estimated_stepping_batches
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, self.hparams.lr, total_steps=steps)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


BUNDLE_FORMAT = "actrec-bundle-2"  # bumped whenever the head's layout changes


def make_bundle(model: ActionClassifier, backbone: dict, sample: dict, predict: dict) -> dict:
    """Everything predict/live need, as tensors and plain Python values (nothing executable)."""
    hp = model.hparams
    return dict(
        format=BUNDLE_FORMAT,
        state_dict={k: v.detach().cpu() for k, v in model.head.state_dict().items()},
        head=dict(
            in_dim=hp.in_dim,
            num_classes=len(hp.classes),
            hidden=hp.hidden,
            layers=hp.layers,
            dropout=hp.dropout,
            clip_norm=hp.clip_norm,
        ),  # fmt: skip
        classes=list(hp.classes),
        backbone=backbone,  # Backbone.describe(): fingerprint, settings, warning
        sample=sample,  # fps, chunk, window
        predict=predict,  # stride
    )


def load_bundle(path: str | Path) -> dict:
    """`torch.load(weights_only=True)` with one-line errors for a missing or foreign file."""
    p = Path(path)
    if not p.is_file():
        raise ActrecError(f"model file not found: {p}")
    try:
        bundle = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ActrecError(f"cannot load model {p}: {str(e).splitlines()[0]}") from None
    if not isinstance(bundle, dict) or not str(bundle.get("format", "")).startswith("actrec-"):
        raise ActrecError(f"{p} is not an actrec model bundle (written by 'actrec train')")
    if bundle["format"] != BUNDLE_FORMAT:
        raise ActrecError(
            f"{p} is a {bundle['format']} bundle; this actrec reads {BUNDLE_FORMAT}: retrain it"
        )
    return bundle


def head_from_bundle(bundle: dict) -> GRUHead:
    head = GRUHead(**bundle["head"])
    head.load_state_dict(bundle["state_dict"])
    return head.eval()


def backbone_for_bundle(bundle: dict, device: str | None = None) -> Backbone:
    """The backbone the bundle was trained on; refused when its fingerprint differs."""
    settings = FeatureSettings(**bundle["backbone"]["settings"])
    if device:
        settings.device = device
    backbone = Backbone(settings)
    want = bundle["backbone"]["fingerprint"]
    if backbone.fingerprint != want:
        raise ActrecError(
            f"backbone mismatch: the model was trained on features '{want}' but this machine "
            f"loads '{backbone.fingerprint}' (different weights or feature settings)"
        )
    return backbone
