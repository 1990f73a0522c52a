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


# ---- a fall as the body shows it: the top of the body and the hips dropping, then staying low --

FALL_S = 1.5  # a fall is over within this (real falls: 0.5-1.3 s; slow collapses about 1.5)
TOP_DROP = 0.4  # the top of the body comes down by this share of the standing height...
HIP_DROP = 0.15  # ...and the hips by this much (bending down moves the top, not the hips)
LOW_S = 1.0  # then it stays down this long (a squat or a bow comes back up)
UP = 0.2  # back within this share of the height of where the top was standing: up again


@dataclass
class Body:
    """A track's body height over time, scale-free: `top` (the highest seen joint), `hip` (the
    hips' mean) in image y (down is +), `height` (the box's), all (T,); missing joints fall back
    to the box (a head out of frame is the box's top)."""

    times: np.ndarray
    top: np.ndarray
    hip: np.ndarray
    height: np.ndarray

    @classmethod
    def of(cls, times, xy, conf, boxes, visible: float = 0.5) -> Body:
        xy, conf, boxes = np.asarray(xy), np.asarray(conf), np.asarray(boxes)  # (T,17,2) (T,17)
        seen = conf >= visible
        y = np.where(seen, xy[..., 1], np.inf)
        top = np.where(seen.any(1), y.min(1), boxes[:, 1])
        hips = seen[:, 11:13]
        hip_y = (xy[:, 11:13, 1] * hips).sum(1) / np.maximum(hips.sum(1), 1)
        hip = np.where(hips.any(1), hip_y, (boxes[:, 1] + boxes[:, 3]) / 2)
        return cls(np.asarray(times, float), top, hip, boxes[:, 3] - boxes[:, 1])

    def before(self, i: int) -> int:
        """The last moment the body was up, in the FALL_S before moment `i`: its top as high as
        the upper quartile of that stretch (the top of a jump or a jitter is not where a fall
        starts)."""
        j0 = int(np.searchsorted(self.times, self.times[i] - FALL_S))
        tops = self.top[j0 : i + 1]
        return j0 + int(np.flatnonzero(tops <= np.quantile(tops, 0.25))[-1])

    def standing_height(self, i: int) -> float:
        """The body's height before moment `i`: the tallest box of the 2 s before it (a fall
        starts from standing, walking or sitting: the tallest recent moment)."""
        before = (self.times >= self.times[i] - 2.0) & (self.times <= self.times[i])
        return float(max(self.height[before].max(), 1e-6))


def physical_falls(body: Body) -> list[dict]:
    """Falls found on the track itself: within FALL_S the top of the body drops by TOP_DROP of
    the standing height and the hips by HIP_DROP, and for LOW_S after (or to the track's end)
    the top stays low. → {label, start_s, end_s, score} spans."""
    t, out, i = body.times, [], 0
    while i < len(t):
        a = body.before(i)
        h = body.standing_height(a)
        top_drop, hip_drop = (body.top[i] - body.top[a]) / h, (body.hip[i] - body.hip[a]) / h
        # stays low after (a track lost on the floor, or a clip ending there, counts)
        after = (t > t[i]) & (t <= t[i] + LOW_S)
        stays = bool(((body.top[after] - body.top[a]) / h > TOP_DROP - UP).all())
        if top_drop >= TOP_DROP and hip_drop >= HIP_DROP and stays:
            soon = np.flatnonzero((t >= t[i]) & (t <= t[a] + FALL_S))
            end = soon[int(np.argmax(body.top[soon]))]  # where the drop bottoms out
            score = round(min(1.0, 0.5 + float(top_drop) / 2), 4)
            out.append(dict(label="falling", start_s=round(float(t[a]), 3),
                            end_s=round(float(t[end]), 3), score=score))  # fmt: skip
            # lying after it is not another fall: the next one starts once the body is up
            up = np.flatnonzero((t > t[end]) & ((body.top - body.top[a]) / h < UP))
            i = int(up[0]) if len(up) else len(t)
            continue
        i += 1
    return out


CONFIRM = 0.1  # falls=both: the head's falling + lying probability that confirms a body drop
# (chosen on half A of the development sources: docs/builtin.md)
CONFIRM_S = 2.0  # in the windows over the drop and this long after it (they lie after a fall)


def confirmed(falls: list[dict], probs: np.ndarray, span: np.ndarray, classes: list[str],
              least: float | None = None) -> list[dict]:  # fmt: skip
    """The body's falls that the head agrees with: some window over the drop or the CONFIRM_S
    after it gives falling and lying together at least `least` (default CONFIRM). A push-up,
    a jump or someone sitting down drops too, but the head sees what it is."""
    least = CONFIRM if least is None else least
    down = [classes.index(c) for c in ("falling", "lying") if c in classes]
    keep = []
    for f in falls:
        near = (span[:, 0] <= f["end_s"] + CONFIRM_S) & (span[:, 1] >= f["start_s"])  # (W,)
        if near.any() and float(probs[near][:, down].sum(1).max()) >= least:
            keep.append(f)
    return keep


def merge_falls(learned: list[dict], physical: list[dict]) -> list[dict]:
    """The head's fall events and the body's, one event where they overlap in time (the
    head's span and score, the better score kept), in time order."""
    out = [dict(e) for e in learned]
    for p in physical:
        same = [e for e in out if e["label"] == "falling" and e["start_s"] <= p["end_s"]
                and p["start_s"] <= e["end_s"] + LOW_S]  # fmt: skip
        if same:
            same[0]["score"] = max(same[0]["score"], p["score"])
        else:
            out.append(dict(p))
    return sorted(out, key=lambda e: e["start_s"])


def down_after(body: Body, event: dict, video_end: float) -> tuple[float, bool | None]:
    """How long the person stays down after a fall: → (down_s, got_up), counted from the end of
    the event. Down: the top of the body lower than standing by TOP_DROP - UP of the height; up
    again when it is back within UP. got_up is False when the video ends with them down, None
    when they leave the view first, or were never seen down (we cannot know)."""
    t = body.times
    i0 = min(len(t) - 1, int(np.searchsorted(t, event["start_s"])))
    a = body.before(i0)  # standing, before the fall
    h = body.standing_height(a)
    drop = (body.top - body.top[a]) / h  # (T,) how far below standing the top is
    low = np.flatnonzero((drop > TOP_DROP - UP) & (t >= t[i0]))
    if not len(low):
        return 0.0, None
    up = np.flatnonzero(drop[low[0] :] < UP)
    end = max(float(event["end_s"]), float(t[low[0]]))
    if len(up):
        return round(max(0.0, float(t[low[0] + up[0]]) - end), 3), True
    last = float(t[-1])
    got_up = False if video_end - last <= 0.5 else None  # still in view at the end, or gone
    return round(max(0.0, (video_end if got_up is False else last) - end), 3), got_up


@dataclass
class DownWatch:
    """Live: each fallen person until they are up again. While down, `down(pid)` holds; after
    `alert_s` seconds down, `update` returns the "down" event once for that fall."""

    alert_s: float = 20.0
    falls: dict[int, list[float]] = field(default_factory=dict)  # id → [since, top, height, said]

    def fell(self, pid: int, t: float, body: Body) -> None:
        """A fall fired for `pid` at `t`: where their top was standing, from their recent body."""
        a = body.before(len(body.times) - 1)
        self.falls[pid] = [t, float(body.top[a]), body.standing_height(a), 0.0]

    def update(self, pid: int, t: float, top: float) -> dict | None:
        """The person's top of body now → the "down" event when they reach `alert_s` down."""
        if pid not in self.falls:
            return None
        since, ref, h, said = self.falls[pid]
        if (top - ref) / h < UP and t - since > FALL_S:  # up again: the fall is over
            del self.falls[pid]
            return None
        if not said and t - since >= self.alert_s:
            self.falls[pid][3] = 1.0
            return dict(t=round(t, 3), id=pid, event="down", down_s=round(t - since, 1))
        return None

    def down(self, pid: int) -> bool:
        return pid in self.falls

    def forget(self, pid: int) -> None:
        self.falls.pop(pid, None)
