"""Whole-frame models scored frame by frame: lanes of the camera's frames, GRU runs, one step each.

Before `live` in the flow (which feeds it frames), after `backbone` and `head`. A 30 fps camera is
dealt in turn to `lanes` of the model's 10 fps; in stream mode each frame costs one backbone pass
and one GRU step per open run, in window mode it re-scores the last window as `predict` does.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import torch

from actrec.backbone import Backbone, FrameStream
from actrec.head import GRUHead, RunningStandardiser, score_windows
from actrec.video import resize


@dataclass
class Run:
    """One GRU run, started from a zero state at some step: its state and outputs so far."""

    state: torch.Tensor | None = None  # (layers, 1, H)
    outs: list[torch.Tensor] = field(default_factory=list)  # (H,) per step


class Lane:
    """One fps-spaced subsequence of the frames: its features (motion input carried inside),
    running statistics, the last `window` features and its GRU runs."""

    def __init__(self, backbone: Backbone, window: int, scale: bool = True) -> None:
        self.window = window
        self.features = FrameStream(backbone)
        self.standardise = RunningStandardiser(span=window / 3, scale=scale)
        self.feats: deque[np.ndarray] = deque(maxlen=window)  # (D,) each
        self.runs: list[Run] = []  # oldest first

    def runs_for_step(self) -> list[Run]:
        """Staggered restarts: a new run every window/2 steps, a run dropped at `window` steps.

        The head was trained on windows that start from a zero state; a state carried on for
        minutes would remember actions long gone. The oldest live run has seen between half a
        window and a window of frames, like `predict`'s windows, for 2 GRU steps per frame.
        """
        if self.runs and len(self.runs[0].outs) >= self.window:
            self.runs.pop(0)
        if not self.runs or len(self.runs[-1].outs) >= max(1, self.window // 2):
            self.runs.append(Run())
        return self.runs


class Scorer:
    """Frames → class probabilities, streaming (one GRU step) or over the last window."""

    def __init__(self, head: GRUHead, backbone: Backbone, window: int, mode: str, lanes: int):
        self.head, self.mode, self.window = head, mode, window
        scale = head.clip_norm != "center"
        self.lanes = [Lane(backbone, window, scale) for _ in range(max(1, lanes))]
        self.size = (backbone.settings.imgsz,) * 2
        self.backbone = backbone

    @torch.inference_mode()
    def warm_up(self, size: tuple[int, int]) -> None:
        """Run the backbone and the head once on a blank frame, outside the lanes' state, so the
        first real frame pays no set-up."""
        blank = np.zeros((1, *self.size, 3), np.uint8)
        feats = self.backbone.features(blank)  # (1, D)
        score_windows(self.head, np.repeat(feats, self.window, 0), self.window, [0])
        self.head.step(torch.from_numpy(feats), None)

    @torch.inference_mode()
    def __call__(self, rgb: np.ndarray, lane: int) -> np.ndarray:
        """A full-size RGB frame → (C,) probabilities from lane `lane`."""
        ln = self.lanes[lane]
        small = resize(rgb, self.size)  # as predict decodes its frames
        f = ln.features.step(small[None])[0]  # (D,)
        ln.feats.append(f)
        if self.mode == "window":  # the call `predict` makes on its last window
            return score_windows(self.head, np.stack(ln.feats), self.window, [0])[0]
        x = torch.from_numpy(f)
        z = ln.standardise(x) if self.head.clip_norm else x[None]  # (1, D)
        for run in ln.runs_for_step():
            out, run.state = self.head.step(z, run.state)  # (1, H)
            run.outs.append(out[0])
        outs = torch.stack(ln.runs[0].outs)[None]  # (1, T', H) of the oldest run
        logits = self.head.pool_classify(outs, torch.ones(outs.shape[:2], dtype=torch.bool))
        return torch.softmax(logits[0], -1).numpy()


def lane_count(source_fps: float, model_fps: float, mode: str, lanes: int | None) -> int:
    """Auto: as many lanes as the source has frames per model frame; window mode uses one."""
    if lanes:
        return int(lanes)
    return 1 if mode == "window" else max(1, round(source_fps / model_fps))
