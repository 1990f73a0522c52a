"""Training the head: `ActionClassifier`, the LightningModule around `head.GRUHead`.

After `head` in the flow; only training and evaluation import it (it brings Lightning and
torchmetrics). One shared step for train and val (padded crops), and a test step that labels each
video by the rule `predict` uses: the mean of its windows' probabilities. The module takes plain
hyperparameters, so a checkpoint alone rebuilds it.
"""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
)

from actrec.bundle import make_bundle
from actrec.head import GRUHead, video_label


def _metrics(num_classes: int, stage: str, postfix: str = "") -> MetricCollection:
    m = {
        "acc": MulticlassAccuracy(num_classes, average="micro"),
        "mean_class_acc": MulticlassAccuracy(num_classes, average="macro"),
        "f1": MulticlassF1Score(num_classes, average="macro"),
    }
    if num_classes >= 5:
        m["top5"] = MulticlassAccuracy(num_classes, top_k=5, average="micro")
    # no compute groups: top-1 and top-5 share a state layout, and torchmetrics would merge them
    # whenever their first updates agree (one sample, right), reporting top-5 = top-1 for good
    return MetricCollection(m, prefix=f"{stage}/", postfix=postfix, compute_groups=False)


class ActionClassifier(L.LightningModule):
    """Trains a `GRUHead`; logs `train/loss`, `val/acc`, `test/f1`, ...

    The test set's batches are whole videos, each cut into windows (`data.VideoWindows`); a
    second test loader, when present, holds K evenly spaced clips per video (`test/acc_Kclip`).
    """

    def __init__(
        self,
        in_dim: int,
        classes: list[str],
        hidden: int = 128,
        layers: int = 1,
        dropout: float = 0.3,
        clip_norm: bool | str = True,
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
        # one collection per stage (and per test loader), so counts never mix
        self.train_metrics = _metrics(n, "train")
        self.val_metrics = _metrics(n, "val")
        self.test_metrics = _metrics(n, "test")
        self.clips_metrics: MetricCollection | None = None  # made when a K-clip loader comes
        self.confusion = MulticlassConfusionMatrix(n)

    @classmethod
    def from_bundle(cls, bundle: dict) -> ActionClassifier:
        """The module around a bundle's head (for `evaluate`)."""
        cfg = {k: v for k, v in bundle["head"].items() if k != "num_classes"}
        model = cls(**cfg, classes=bundle["classes"])
        model.head.load_state_dict(bundle["state_dict"])
        return model

    def to_bundle(self, backbone: dict, sample: dict, predict: dict, **extra) -> dict:
        return make_bundle(self.head, self.hparams.classes, backbone, sample, predict, **extra)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(x, lengths)

    def _step(self, batch, stage: str) -> torch.Tensor:
        x, lengths, y = batch  # (B, T, D), (B,), (B,)
        logits = self(x, lengths)
        loss = F.cross_entropy(
            logits, y, weight=self.class_w, label_smoothing=self.hparams.label_smoothing
        )
        metrics = getattr(self, f"{stage}_metrics")
        metrics.update(logits, y)
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

    def on_test_start(self) -> None:
        loaders = self.trainer.test_dataloaders
        if isinstance(loaders, list | tuple) and len(loaders) > 1:
            k = loaders[1].dataset.count
            self.clips_metrics = _metrics(len(self.hparams.classes), "test", f"_{k}clip")
            self.clips_metrics.to(self.device)

    def test_step(self, batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        windows, y = batch  # (W, L, D) of one video, (1,)
        probs = video_label(torch.softmax(self(windows), -1))[None]  # (1, C): predict's label
        if dataloader_idx == 0:
            metrics = self.test_metrics
            self.confusion.update(probs, y)
        else:
            metrics = self.clips_metrics
        metrics.update(probs, y)
        self.log_dict(metrics, on_step=False, on_epoch=True, add_dataloader_idx=False,
                      batch_size=1)  # fmt: skip

    def configure_optimizers(self):
        opt = torch.optim.AdamW(
            self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay
        )
        steps = self.trainer.estimated_stepping_batches
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, self.hparams.lr, total_steps=steps)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
