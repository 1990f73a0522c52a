"""The head and its window rule, with torch alone: GRUHead, windows, the label rules.

A leaf any stage may import (it imports no other stage); `model` wraps `GRUHead` for training.
Cutting a video's features into windows, scoring them, the one rule for a video's label (the mean
of its windows' probabilities) and the one rule for an unsure label live here, so training's test,
`evaluate`, `predict` and `live` cannot disagree.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

UNSURE = "…"  # the label of a window, clip or person scored below the threshold, or barely seen
MIN_SEEN = 0.4  # person models: where fewer of a person's joints are seen, the label is UNSURE


def time_mask(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """(B,) lengths → (B, T) bool, True on valid steps."""
    return torch.arange(steps, device=lengths.device)[None] < lengths[:, None]


def _scaled(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """(x - mean) / std with a floor of a tenth of the mean std, so near-constant features are
    not blown up into pure quantisation noise."""
    return (x - mean) / (std + 0.1 * std.mean(-1, keepdim=True) + 1e-6)


def clip_standardise(x: torch.Tensor, mask: torch.Tensor, scale: bool = True) -> torch.Tensor:
    """(B, T, D): subtract each clip's mean over valid steps and divide by its std, per feature
    (`scale=False`: the mean only, so how much a feature moves is kept)."""
    m = mask[..., None].to(x.dtype)  # (B, T, 1)
    n = m.sum(1, keepdim=True).clamp(min=1)
    mean = (x * m).sum(1, keepdim=True) / n  # (B, 1, D)
    if not scale:
        return (x - mean) * m
    var = (((x - mean) * m) ** 2).sum(1, keepdim=True) / n
    return _scaled(x, mean, var.sqrt()) * m


class RunningStandardiser:
    """`clip_standardise` for a stream: exponential running statistics over ~`span` steps.

    Online only the past is known. Statistics over the last window lag an action change by
    seconds; a short memory (a third of a window) follows it: measured on a 60 s video of
    back-to-back actions, 0.89 of labels right once an action has lasted 3 s, against 0.55.
    """

    def __init__(self, span: float, scale: bool = True) -> None:
        self.alpha, self.scale = 2 / (span + 1), scale
        self.mean: torch.Tensor | None = None
        self.var: torch.Tensor | None = None

    def __call__(self, f: torch.Tensor) -> torch.Tensor:
        """(D,) feature → (1, D) standardised."""
        if self.mean is None:
            self.mean, self.var = f.clone(), torch.zeros_like(f)
        d = f - self.mean
        self.mean = self.mean + self.alpha * d
        self.var = (1 - self.alpha) * (self.var + self.alpha * d * d)
        if not self.scale:  # clip_norm="center"
            return (f - self.mean)[None]
        return _scaled(f, self.mean, self.var.sqrt())[None]


class GRUHead(nn.Module):
    """(B, T, D) features + (B,) lengths → (B, C) logits.

    Standardises each clip over time (untrained-backbone features are useless without it),
    projects, runs a GRU, pools its outputs over the valid steps only (padding never changes a
    prediction) and classifies. `step` runs the GRU one frame at a time for `live`.
    """

    def __init__(
        self,
        in_dim: int,
        num_classes: int,
        hidden: int = 128,
        layers: int = 1,
        dropout: float = 0.3,
        clip_norm: bool | str = True,  # True | "center" | False
    ) -> None:
        super().__init__()
        self.config = dict(in_dim=in_dim, num_classes=num_classes, hidden=hidden, layers=layers,
                           dropout=dropout, clip_norm=clip_norm)  # fmt: skip
        self.clip_norm = clip_norm
        self.norm = nn.LayerNorm(in_dim)
        # drops whole features of a clip (all its steps): one random draw per clip and feature,
        # where element dropout on (B, T, D) spent a third of each training step drawing numbers
        self.feature_drop = nn.Dropout1d(dropout)
        self.proj = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU())
        self.gru = nn.GRU(hidden, hidden, layers, batch_first=True, dropout=dropout * (layers > 1))
        self.classify = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * hidden, num_classes))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """No `lengths`: every step is valid (windows, as predict scores them), no packing."""
        b, t, _ = x.shape
        full = lengths is None
        mask = time_mask(torch.full((b,), t) if full else lengths, t).to(x.device)  # (B, T)
        if self.clip_norm:
            x = clip_standardise(x, mask, scale=self.clip_norm != "center")
        h = self.embed(x)  # (B, T, H)
        if full:
            # the initial state sized from the input, so an exported graph takes any batch
            out, _ = self.gru(h, h.new_zeros(self.gru.num_layers, b, self.gru.hidden_size))
            return self.pool_classify(out, mask)
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

        Stepping through a sequence equals `forward`'s GRU pass on it.
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


class HeadEnsemble(nn.Module):
    """GRUHeads of one shape trained with different seeds, their probabilities averaged (as
    log-probabilities, so a softmax of the output gives the mean): steadier than any one of them
    where the training seed decides. Windows only (no streaming step)."""

    def __init__(self, heads: list[GRUHead]) -> None:
        super().__init__()
        self.heads = nn.ModuleList(heads)
        self.config, self.clip_norm = heads[0].config, heads[0].clip_norm

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        probs = torch.stack([torch.softmax(h(x, lengths), -1) for h in self.heads])  # (H, B, C)
        return probs.mean(0).clamp_min(1e-12).log()


# ---- windows: the one place a video's features are cut and scored --------------------------------


def window_starts(
    steps: int, window: int, stride: int | None = None, count: int | None = None
) -> list[int]:
    """Starts of `window`-long windows over `steps` sampled frames.

    Every `stride` steps, the last window ending at `steps` (a stride longer than a window is
    shortened to one, so no stretch goes unlabelled); or `count` evenly spaced windows (the
    centre one for a count of 1). A video no longer than a window is one window, whole.
    """
    if steps <= window:
        return [0]
    last = steps - window
    if count is not None:
        if count <= 1:
            return [last // 2]
        return sorted({int(round(s)) for s in np.linspace(0, last, count)})
    starts = list(range(0, last + 1, min(max(1, stride or window), window)))
    if starts[-1] != last:
        starts.append(last)
    return starts


def cut_windows(feats: np.ndarray, window: int, starts: list[int]) -> torch.Tensor:
    """(T, D) → (W, L, D) float32, L = min(window, T)."""
    return torch.from_numpy(np.stack([feats[s : s + window] for s in starts]).astype(np.float32))


@torch.inference_mode()
def score_windows(head: nn.Module, feats: np.ndarray, window: int, starts: list[int]) -> np.ndarray:
    """(T, D) features → (W, C) probabilities, one row per window."""
    return torch.softmax(head(cut_windows(feats, window, starts)), -1).numpy()


def video_label(probs: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """(W, C) window probabilities → (C,): a video's label is the mean over its windows (the
    rule `predict` labels by and the test stage of `train` and `evaluate` scores by)."""
    return probs.mean(0)


def stride_steps(stride_s: float, fps: float) -> int:
    """A stride in seconds → sampled frames (at least one)."""
    return max(1, round(stride_s * fps))


def label_name(classes: list[str], probs: np.ndarray, threshold: float, seen: float | None) -> str:
    """The shown label of (C,) probabilities: UNSURE below `threshold`, or (person models, `seen`
    given: the share of joints seen) where under MIN_SEEN of the joints were seen. `predict` and
    `live` both name labels with it."""
    top = int(probs.argmax())
    if probs[top] < threshold or (seen is not None and seen < MIN_SEEN):
        return UNSURE
    return classes[top]
