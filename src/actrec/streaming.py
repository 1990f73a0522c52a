"""Models scored frame by frame for `live`: whole-frame lanes and GRU runs, and tracked people.

Before `live` in the flow (which feeds it frames), after `backbone`, `people` and `head`. A 30 fps
camera is dealt in turn to `lanes` of the model's 10 fps; in stream mode each frame costs one
backbone pass and one GRU step per open run, in window mode it re-scores the last window as
`predict` does. Person models (`PersonScorer`) label each tracked person's last window, and raise
their events: the head's, a fall the body shows, a fallen person still down.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import torch

from actrec.backbone import Backbone, FrameStream
from actrec.events import Alerts, Body, DownWatch, physical_falls
from actrec.head import GRUHead, RunningStandardiser, label_name, score_windows
from actrec.people import People, PersonStream
from actrec.pose import TRAVEL_STEPS, VISIBLE, pose_features, seen_share
from actrec.reps import LiveCounter
from actrec.video import fit_size, resize


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


class Smoother:
    """Moving average of the last `n` probability vectors, hidden below `threshold`."""

    def __init__(self, classes: list[str], n: int = 5, threshold: float = 0.4, topk: int = 3):
        self.classes, self.threshold, self.topk = classes, threshold, topk
        self.recent: deque[np.ndarray] = deque(maxlen=max(1, n))

    def __call__(
        self, probs: np.ndarray, seen: float | None = None
    ) -> tuple[str, float, list[tuple[str, float]]]:
        """→ (shown label or "…", its score, top-k (label, score) pairs); `seen`: the share of
        a person's joints seen (person models), the rule `predict` applies too."""
        self.recent.append(probs)
        mean = np.mean(self.recent, 0)
        order = np.argsort(-mean)[: self.topk]
        top = [(self.classes[i], float(mean[i])) for i in order]
        return label_name(self.classes, mean, self.threshold, seen), top[0][1], top


class PersonScorer:
    """Person-stream models: every frame the CPU keeps up with goes through the pose model and
    the tracker (the tracker must see frames in order, so there are no lanes); each tracked
    person keeps their last window of frames, resampled to the model's fps as in `predict`, and
    their own smoother: created when the track appears, dropped once it has been lost for
    `LOST_S`. A person's label scores their last window as `predict` scores a person's."""

    LOST_S = 3.0

    def __init__(self, head: GRUHead, people: People, window: int, fps: float, smoother,
                 feed_fps: float, classes: list[str], down_alert_s: float = 20.0,
                 exercises: tuple[str, ...] = ()) -> None:  # fmt: skip
        self.head, self.window, self.fps, self.new_smoother = head, window, fps, smoother
        self.stream = PersonStream(people, fps, feed_fps)
        self.size = people.settings.imgsz
        self.smooth: dict[int, Smoother] = {}
        self.fed: deque[float] = deque(maxlen=30)  # media times of the last frames pushed
        self.alerts = Alerts(quiet_s=window / fps)  # one-off actions: one alert per event
        self.downs = DownWatch(down_alert_s)  # fallen people, until they are up
        self.body_falls = "falling" in classes  # a model that knows falls: the body's too
        self.fired: list[dict] = []  # the events of the last call
        self.exercises = exercises  # counted per person (`reps.LiveCounter`)
        self.counters: dict[int, LiveCounter] = {}
        self.reps: list[dict] = []  # the reps told on the last call: t, id, exercise, count
        self.sets: list[dict] = []  # the sets that ended on the last call: t, id, exercise, count

    def small(self, rgb: np.ndarray) -> tuple[np.ndarray, float]:
        """A frame at the detection size (long side), and source pixels per small pixel."""
        size = fit_size(rgb.shape[1::-1], self.size)
        return resize(rgb, size), rgb.shape[1] / size[0]  # as predict decodes and scales

    def warm_up(self, size: tuple[int, int]) -> None:
        """Run the pose model and the head once on a blank frame of the source's `size` (w, h),
        outside the tracker, so the first real frame pays no set-up."""
        small, _ = self.small(np.zeros((size[1], size[0], 3), np.uint8))
        self.stream.people.detect(small[None])
        dim = self.stream.people.feature_dim
        score_windows(self.head, np.zeros((self.window, dim), np.float32), self.window, [0])

    @torch.inference_mode()
    def __call__(self, rgb: np.ndarray, t: float) -> list[tuple[int, list[float], tuple]]:
        """A full-size RGB frame → (id, box, shown label) per person in it, largest first."""
        self.fed.append(t)
        if len(self.fed) >= 10:  # frames dropped when the CPU falls behind: the tracker's clock
            self.stream.feed_rate((len(self.fed) - 1) / max(self.fed[-1] - self.fed[0], 1e-3))
        small, scale = self.small(rgb)
        ids = self.stream(small[None], np.array([t]), scale)
        tracks = self.stream.tracks
        for tid in [i for i, tr in tracks.items() if t - tr.times[-1] > self.LOST_S]:
            del tracks[tid]  # lost for good: its memory goes
            self.smooth.pop(tid, None)
            self.alerts.forget(tid)
            self.downs.forget(tid)
            self.counters.pop(tid, None)
        out, bodies = [], {}
        self.reps, self.sets = [], []
        for tid in ids:
            tr = tracks[tid]
            # the last window, and the second before it that its first steps' travel looks at
            span = (self.window + TRAVEL_STEPS) / self.fps
            tr.keep_last(sum(x >= t - span for x in tr.times))  # bounded memory
            a = tr.arrays(self.fps)
            parts = self.stream.people.settings.parts
            feats = pose_features(a["xy"], a["conf"], a["boxes"], parts, a.get("roi"))[
                -self.window :
            ]
            probs = score_windows(self.head, feats, self.window, [0])[0]
            seen = seen_share(feats, parts)
            shown = self.smooth.setdefault(tid, self.new_smoother())(
                probs, None if seen is None else float(seen.mean())
            )
            out.append((tid, [round(float(v), 1) for v in tr.boxes[-1]], shown))
            bodies[tid] = Body.of(a["times"], a["xy"], a["conf"], a["boxes"], VISIBLE)
            if self.exercises:
                self._count(tid, a, shown[2][0][0] if shown[2] else shown[0])
        self.fired = self._events(t, out, bodies)
        return sorted(out, key=lambda p: -(p[1][3] - p[1][1]))

    def _count(self, tid: int, a: dict, top: str) -> None:
        """The person's newest step into their rep counter (their top class, shown or unsure:
        a set's unsure moments count with it, as in `predict`)."""
        counter = self.counters.setdefault(tid, LiveCounter(self.fps, self.exercises))
        t, before = float(a["times"][-1]), (counter.exercise, counter.total)
        was_on = counter.active_at(t - 1 / self.fps)
        told = counter(a, top)
        self.reps += [{"t": r["t"], "id": tid, "exercise": r["exercise"], "count": r["count"]}
                      for r in told]  # fmt: skip
        if was_on and before[1] and (not counter.active_at(t) or counter.exercise != before[0]):
            self.sets.append({"t": t, "id": tid, "exercise": before[0], "count": before[1]})

    def count_shown(self, pid: int) -> str:
        """The running count drawn over a person (' | 3 reps'), or ''."""
        c = self.counters.get(pid)
        t = self.fed[-1] if self.fed else 0.0
        return f" | {c.total} reps" if c and c.total and c.active_at(t) else ""

    def tracked(self, pid: int) -> bool:
        """Whether the person is still followed (not yet lost for `LOST_S`)."""
        return pid in self.stream.tracks

    def down_shown(self, pid: int) -> tuple[str, float] | None:
        """The alert held over a fallen person while they are down."""
        return ("down", 1.0) if self.downs.down(pid) else None

    def _events(self, t: float, out: list, bodies: dict[int, Body]) -> list[dict]:
        """This frame's events: a label that is an event (the head's), a fall the body shows
        (models that know falls, as `predict falls=both`), a fallen person down for
        `down_alert_s`."""
        fired = []
        for tid, _, (label, score, _) in out:
            body = bodies[tid]
            if self.body_falls and label != "falling":
                drop = [e for e in physical_falls(body) if e["end_s"] >= t - 0.5 / self.fps]
                label, score = ("falling", drop[0]["score"]) if drop else (label, score)
            if e := self.alerts(tid, t, label, score):
                fired.append(e)
                if e["event"] == "falling":
                    self.downs.fell(tid, t, body)
            if d := self.downs.update(tid, t, float(body.top[-1])):
                fired.append(d)
        return fired
