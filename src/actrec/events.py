"""One-off actions as events: a fall, sitting down, standing up, found on window scores.

After `head` in the flow (window probabilities in, events out; numpy only), shared by `predict`
(each person's `events`, and the clip's) and `live` (an alert over the person, one log line per
event). A cyclic action (walking, squats) labels windows; a one-off action is a span with a
start, an end and a score. What follows a fall (lying still) is a state with a class of its own,
so it labels windows and never repeats the fall.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

EVENTS = ("falling", "sitting_down", "standing_up")  # the classes that are events, by name


def event_classes(classes: list[str]) -> list[int]:
    """The indices of a model's classes that are events (none for most models you train)."""
    return [i for i, c in enumerate(classes) if c in EVENTS]


def find_events(
    probs: np.ndarray, starts: np.ndarray, ends: np.ndarray, classes: list[str], threshold: float
) -> list[dict]:
    """(W, C) window probabilities and each window's start and end (seconds) → events, in time
    order: {label, start_s, end_s, score}.

    A window is evidence of an event when the event is its top class, scored at least
    `threshold`. Evidence windows of one event that overlap in time are one event: a 1-2 s fall
    lies inside every window that saw it, so the event is placed where those windows overlap
    (between the first one's end and the last one's start when they do not all overlap), and
    scored by its best window.
    """
    out = []
    top = probs.argmax(1) if len(probs) else np.zeros(0, int)
    for c in event_classes(classes):
        hits = [k for k in range(len(probs)) if top[k] == c and probs[k, c] >= threshold]
        run: list[int] = []
        for k in hits + [None]:
            if run and (k is None or starts[k] >= max(ends[j] for j in run)):
                out.append(_event(classes[c], probs[run, c], starts[run], ends[run]))
                run = []
            if k is not None:
                run.append(k)
    return sorted(out, key=lambda e: e["start_s"])


def _event(label: str, scores: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> dict:
    a, b = float(starts.max()), float(ends.min())  # where every evidence window overlaps
    start, end = min(a, b), max(a, b)
    return dict(label=label, start_s=round(start, 3), end_s=round(end, 3),
                score=round(float(scores.max()), 4))  # fmt: skip


@dataclass
class Alerts:
    """Live: an event fires once for a person when it becomes their shown label, is shown over
    them for `hold_s` seconds, and does not fire again for that person until `quiet_s` seconds
    without it have passed (the windows after a fall still hold it)."""

    hold_s: float = 3.0
    quiet_s: float = 3.2
    last: dict[int, tuple[str, float, float, float]] = field(default_factory=dict)
    # id → (event, score, when it fired, when it was last the label)

    def __call__(self, pid: int, t: float, label: str, score: float) -> dict | None:
        """A person's shown label at `t` → the new event's record, or None."""
        if label not in EVENTS:
            return None
        prev = self.last.get(pid)
        if prev and prev[0] == label and t - prev[3] < self.quiet_s:
            self.last[pid] = (*prev[:3], t)  # the same event, still in view
            return None
        self.last[pid] = (label, score, t, t)
        return dict(t=round(t, 3), id=pid, event=label, score=round(score, 4))

    def shown(self, pid: int, t: float) -> tuple[str, float] | None:
        """The alert to draw over a person at `t`: (event, score) for `hold_s` after it fired."""
        prev = self.last.get(pid)
        return (prev[0], prev[1]) if prev and t - prev[2] <= self.hold_s else None

    def forget(self, pid: int) -> None:
        self.last.pop(pid, None)
