"""Repetition counts: a person's keypoints over a stretch of one exercise → each rep and when.

After `head` and `events` in the flow (numpy only): the person's window labels say where they do
an exercise, the keypoints say how many times. Shared by `predict` (each person's `reps`) and
`live` (`LiveCounter`, a running count per person). No exercise, joint or angle is named: the
count comes from the pose's own main motion, so either side may face the camera and any joint
may drop out.

The method (docs/reps.md says how each choice was measured): the visible joints, centred on the
hips and scaled by the torso, cut at camera cuts, as features that a left/right swap leaves
alone; the slow drift removed (a zoom, a moving camera). The exercise's motion is the part of
the pose's main components (the top 3) that moves with the shoulders' height in the image (every
exercise moves the body up and down), or the first component where that is too small (jumping
jacks). Normalised to its usual range, a rep is a peak that stands out from the valleys on
both sides by `PROMINENCE` (jitter, a pause at the bottom or a change of tempo add no reps),
timed at its extreme: the bottom, or the top for `AT_TOP` exercises.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter1d, uniform_filter1d
from scipy.signal import find_peaks

from actrec.pose import FLIP, HIPS, SHOULDERS, VISIBLE, midpoint

EXERCISES = ("squat", "push_up", "sit_up", "pull_up", "lunge", "jumping_jacks")  # counted
AT_TOP = ("pull_up", "sit_up")  # a rep timed at its top (the others: at the bottom)
PROMINENCE = 0.3  # a rep stands out from its valleys by this share of the motion's usual range
HIGH = 0.7  # a shot that opens or ends at a rep's moment: counted when it is this near the top
COMPONENTS = 3  # the pose's main components the exercise's motion is looked for in
MIN_RANGE = 0.2  # torso lengths: a smaller main motion is someone holding still, not reps
SEEN = 0.5  # joints seen in less than this share of a stretch's frames are left out
CUT_JUMP = 0.5  # a box that moves this share of its height in one step: a camera cut
CUT_GAP_S = 1.0  # a track unseen this long: counted as apart on each side
DRIFT_S = 8.0  # drift: what changes slower than this (a zoom, a person walking between reps)
SMOOTH_S = 0.15  # keypoint jitter: a Gaussian this wide (s) before counting
REST = 2.5  # a pause this many times the set's usual rep-to-rep time starts a new set
REST_S = 4.0  # ...and at least this long
SURE = 0.4  # a stretch counts where one of its windows scores its exercise this much: the
# counts were chosen at that bar; at 0.3 (the built-in model's '…' since 2026-12-08) a walker's
# step made a set of lunges and a pull-up clip counted 16 reps for 6


@dataclass
class Rep:
    """One repetition: where it started and ended, and its moment (bottom or top)."""

    start_s: float
    at_s: float
    end_s: float
    settled: bool = True  # the motion has come back from the extreme (live announces it then)


def segments(times: np.ndarray, boxes: np.ndarray) -> list[slice]:
    """Where a track is one continuous shot: split at camera cuts (the box jumps or changes size
    at once) and at gaps where the track was lost."""
    t, b = np.asarray(times, float), np.asarray(boxes, float)
    h = np.maximum(b[:, 3] - b[:, 1], 1.0)
    centre = (b[:, :2] + b[:, 2:]) / 2  # (T, 2)
    jump = np.linalg.norm(np.diff(centre, axis=0), axis=1) / np.minimum(h[1:], h[:-1])
    resize = np.abs(np.log(h[1:] / h[:-1]))
    cut = (jump > CUT_JUMP) | (resize > 0.4) | (np.diff(t) > CUT_GAP_S)  # (T-1,)
    edges = [0, *(np.flatnonzero(cut) + 1).tolist(), len(t)]
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


def _filled(t: np.ndarray, x: np.ndarray, ok: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """(T,) values at times `t`, seen where `ok` → at every time of `grid`, by linear
    interpolation (edges held)."""
    return np.interp(grid, t[ok], x[ok])


def _smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian over time (T, K), `sigma` in steps."""
    return gaussian_filter1d(x, sigma, axis=0, mode="mirror", truncate=3.0) if sigma > 0.3 else x


def _detrend(x: np.ndarray, width: int) -> np.ndarray:
    """x (T, K) less its moving mean over `width` steps (the slow drift), or its mean when the
    stretch is shorter than that."""
    if len(x) <= width:
        return x - x.mean(0)
    return x - uniform_filter1d(x, width, axis=0, mode="nearest")


def motion(times, xy, conf, fps: float) -> tuple[np.ndarray, np.ndarray, float] | None:
    """One shot of a person → their main motion on a regular grid of `fps`: (grid times (G,),
    the exercise's motion in the hip-centred pose (G,) in torso lengths (`_main_motion`),
    positive where the shoulders are lower in the image, its range); None when too little of
    the body is seen.
    Frames the detector missed are filled in from their neighbours."""
    t = np.asarray(times, float)
    xy, ok = np.asarray(xy, np.float32), np.asarray(conf) >= VISIBLE  # (T, 17, 2), (T, 17)
    keep = np.flatnonzero(ok.mean(0) >= SEEN)  # the joints seen enough to follow
    anchor = [k for k, j in enumerate(keep) if j in HIPS] or [
        k for k, j in enumerate(keep) if j in SHOULDERS]  # fmt: skip
    if len(t) < 3 or len(keep) < 3 or not anchor:
        return None
    grid = np.arange(t[0], t[-1] + 0.5 / fps, 1 / fps)  # (G,)
    pts = np.stack([np.stack([_filled(t, xy[:, j, d], ok[:, j], grid) for d in (0, 1)], 1)
                    for j in keep], 1)  # fmt: skip  # (G, J, 2) pixels
    centre = pts[:, anchor].mean(1, keepdims=True)  # (G, 1, 2)
    torso = _torso(xy, ok)
    width = max(3, round(DRIFT_S * fps))
    x = _symmetric((pts - centre) / torso, keep)  # (G, K) torso lengths
    x = _smooth(_detrend(x, width), SMOOTH_S * fps)
    sh = [k for k, j in enumerate(keep) if j in SHOULDERS] or anchor
    low = _detrend(pts[:, sh, 1].mean(1, keepdims=True) / torso, width)[:, 0]  # (G,)
    pc = _main_motion(x, _smooth(low[:, None], SMOOTH_S * fps)[:, 0])
    return grid, pc, _range(pc)


def _main_motion(x: np.ndarray, low: np.ndarray) -> np.ndarray:
    """(G, K) pose features and the shoulders' height in the image (G,) → the exercise's motion
    (G,), positive where the body is lower. The pose's first component alone would follow
    whatever moves most: in a lunge, which leg is in front (one cycle per two reps)."""
    xc, lc = x - x.mean(0), low - low.mean()
    u, _, vt = np.linalg.svd(xc, full_matrices=False)
    top = u[:, :COMPONENTS]  # (G, k) orthonormal
    pc = top @ (top.T @ lc)  # what of the pose's main motion goes with the body's height
    if _range(pc) < MIN_RANGE:  # the body hardly rises and sinks (jumping jacks): the first
        pc = xc @ vt[0]
    return pc if float(np.dot(pc - pc.mean(), lc)) >= 0 else -pc


def _range(x: np.ndarray) -> float:
    """The usual range of a signal: 5th to 95th percentile (a glitch does not set it)."""
    lo, hi = np.percentile(x, [5, 95])
    return float(hi - lo)


def _symmetric(pts: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """(G, J, 2) positions of `joints` → (G, K) features that a left/right swap of the pose
    model (common for a few frames) and the side facing the camera leave alone: per pair of
    joints, their midpoint and how far apart they are; a joint whose partner is not followed,
    as it is."""
    where = {int(j): k for k, j in enumerate(joints)}
    cols = []
    for j, k in where.items():
        other = where.get(FLIP[j])
        if other is None:
            cols.append(pts[:, k])  # the nose, or one side alone
        elif FLIP[j] > j:  # each pair once
            a, b = pts[:, k], pts[:, other]
            cols += [(a + b) / 2, np.abs(a - b)]
    return np.concatenate(cols, 1)


def _torso(xy: np.ndarray, ok: np.ndarray) -> float:
    """The median shoulder-to-hip length over the shot (pixels), or a fallback of the spread."""
    (s, sh), (h, hp) = midpoint(xy, ok, SHOULDERS), midpoint(xy, ok, HIPS)
    both = sh & hp
    if both.sum() >= 2:
        return max(float(np.median(np.linalg.norm(s - h, axis=1)[both])), 1.0)
    seen = xy[ok]
    return max(float(np.ptp(seen[:, 1])) / 3, 1.0) if len(seen) else 1.0


def excursions(signal: np.ndarray, at_top: bool = False) -> list[tuple[int, int, int, bool]]:
    """A normalised motion (G,) (0..1 over its usual range) → (start, extreme, end, settled)
    of each rep: step indices, and whether the motion has come back from the extreme by
    PROMINENCE since. `at_top`: the reps' moments are the signal's lows (the top of a
    pull-up)."""
    u = 1 - signal if at_top else signal
    # the shot's ends count as valleys, so a clip that opens or ends at a rep's moment counts it
    # (when it is near the top: a clip that opens half-way down does not)
    floor = min(0.0, float(u.min()))
    padded = np.concatenate([[floor], u, [floor]])
    peaks = find_peaks(padded, prominence=PROMINENCE)[0] - 1  # indices into u
    peaks = [p for p in peaks if 0 < p < len(u) - 1 or u[p] >= HIGH]
    # a rep runs from the low before it to the low after it (within a usual rep's time at the
    # set's ends, so a set's start and end are not the whole shot's)
    usual = int(np.median(np.diff(peaks))) if len(peaks) > 1 else len(u)
    bounds = [max(0, peaks[0] - usual), *peaks, min(len(u) - 1, peaks[-1] + usual)] if peaks else []
    out = []
    for k, p in enumerate(peaks):
        a, b = bounds[k], bounds[k + 2]
        start = a + int(np.argmin(u[a : p + 1]))
        end = p + int(np.argmin(u[p : b + 1]))
        out.append((start, p, end, bool(u[p:].min() <= u[p] - PROMINENCE)))
    return out


def count(times, xy, conf, boxes, fps: float, at_top: bool = False) -> list[Rep]:
    """One person's stretch of an exercise → its reps, in time order."""
    t = np.asarray(times, float)
    reps = []
    for s in segments(t, boxes):
        m = motion(t[s], np.asarray(xy)[s], np.asarray(conf)[s], fps)
        if m is None or m[2] < MIN_RANGE:
            continue  # the body barely moves: no reps (or too little of it is seen)
        grid, pc, usual = m
        u = (pc - np.percentile(pc, 5)) / max(usual, 1e-6)  # (G,) 0..1 over the shot
        reps += [Rep(float(grid[a]), float(grid[p]), float(grid[b]), done)
                 for a, p, b, done in excursions(u, at_top)]  # fmt: skip
    return reps


def split_sets(reps: list[Rep]) -> list[list[Rep]]:
    """Reps → sets: a pause much longer than the set's usual rep-to-rep time starts a new one."""
    if not reps:
        return []
    gaps = np.diff([r.at_s for r in reps])
    usual = float(np.median(gaps)) if len(gaps) else 0.0
    out = [[reps[0]]]
    for r, g in zip(reps[1:], gaps, strict=True):
        if g > max(REST * usual, REST_S):
            out.append([])
        out[-1].append(r)
    return out


def exercises_for(bundle: dict) -> tuple[str, ...]:
    """The classes a model counts: its `predict.exercises`, else those it shares with EXERCISES."""
    named = bundle["predict"].get("exercises") or [c for c in bundle["classes"] if c in EXERCISES]
    return tuple(named)


def stretches(labels: list[str], spans: np.ndarray, exercises: list[str] | tuple[str, ...],
              shown: list[str] | None = None) -> list[tuple[str, float, float]]:  # fmt: skip
    """Window top classes (W,) and spans (W, 2) seconds → (exercise, start_s, end_s) of each run
    of windows of one exercise (a lone window of another class inside a run does not break
    it). `shown`: the windows' labels as shown (unsure ones '…'); a run counts when at least one
    of its windows is shown as the exercise, and its unsure windows then count with it. Runs of
    one exercise less than REST_S apart are one stretch (a hold at the bottom of a squat may
    look like sitting for a window or two)."""
    lab = list(labels)
    for k in range(1, len(lab) - 1):  # one stray window between two of the same exercise
        if lab[k - 1] == lab[k + 1] and lab[k - 1] in exercises:
            lab[k] = lab[k - 1]
    runs: list[tuple[str, float, float, bool]] = []  # exercise, start, end, shown as it
    for k, name in enumerate(lab):
        if name not in exercises:
            continue
        sure = shown is None or shown[k] == name
        if runs and runs[-1][0] == name and spans[k, 0] <= runs[-1][2]:
            runs[-1] = (name, runs[-1][1], float(spans[k, 1]), runs[-1][3] or sure)
        else:
            runs.append((name, float(spans[k, 0]), float(spans[k, 1]), sure))
    out: list[tuple[str, float, float]] = []
    for name, a, b, sure in runs:
        if not sure:
            continue
        if out and out[-1][0] == name and a - out[-1][2] <= REST_S:
            out[-1] = (name, out[-1][1], b)  # a few windows of something else inside one set
        else:
            out.append((name, a, b))
    return out


def rep_sets(track: dict, labels: list[str], spans: np.ndarray, fps: float,
             exercises: list[str] | tuple[str, ...] = EXERCISES,
             shown: list[str] | None = None) -> list[dict]:  # fmt: skip
    """A person's track (`times`, `xy`, `conf`, `boxes`) and their windows' top classes and
    spans (`stretches`) → one entry per set: {exercise, count, start_s, end_s, rep_times_s}."""
    t = np.asarray(track["times"], float)
    out = []
    for name, a, b in stretches(labels, spans, exercises, shown):
        s = (t >= a) & (t <= b)
        if s.sum() < 3:
            continue
        reps = count(t[s], track["xy"][s], track["conf"][s], track["boxes"][s], fps,
                     name in AT_TOP)  # fmt: skip
        out += [_entry(name, group) for group in split_sets(reps)]
    return out


def _entry(exercise: str, reps: list[Rep]) -> dict:
    return dict(exercise=exercise, count=len(reps), start_s=round(reps[0].start_s, 3),
                end_s=round(reps[-1].end_s, 3),
                rep_times_s=[round(r.at_s, 3) for r in reps])  # fmt: skip


@dataclass
class LiveCounter:
    """Live: one person's running count. Each model step brings their recent track (the last
    window, resampled to the model's fps) and top class; while that is an exercise the stretch
    is kept (at most `keep_s`, starting with the window before the label turned: the first reps
    are in it) and counted again every `every` steps. The count is the reps the body has come
    back from (`Rep.settled`), and it only rises (a peak that moves as more is seen is not a new
    rep). A change of exercise, or `rest_s` without it, starts a new set."""

    fps: float
    exercises: tuple[str, ...] = EXERCISES
    keep_s: float = 30.0
    rest_s: float = 4.0
    every: int = 2
    settle_s: float = 3.0
    exercise: str = ""
    total: int = 0  # reps told in the current set
    last_seen: float = -np.inf  # the last step labelled with the exercise
    steps: int = 0
    buf: list[tuple[float, np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    told: list[float] = field(default_factory=list)  # the moments of the reps told

    def __call__(self, recent: dict, label: str) -> list[dict]:
        """The person's recent track (`times`, `xy`, `conf`, `boxes`) and top class at its last
        step → the reps told on it: {t, exercise, count, at_s}."""
        t = float(recent["times"][-1])
        if label in self.exercises:
            if label != self.exercise or t - self.last_seen > self.rest_s:
                self.exercise, self.total, self.buf, self.told = label, 0, [], []
            self.last_seen = t
        if not self.active_at(t):
            return []
        last = self.buf[-1][0] if self.buf else -np.inf
        for k in np.flatnonzero(np.asarray(recent["times"]) > last + 0.5 / self.fps):
            self.buf.append((float(recent["times"][k]), recent["xy"][k], recent["conf"][k],
                             recent["boxes"][k]))  # fmt: skip
        while self.buf[0][0] < t - self.keep_s:
            self.buf.pop(0)
        self.steps += 1
        # counted once a window's worth is in (a second of someone getting ready is not a rep)
        ready = self.buf[-1][0] - self.buf[0][0] >= self.settle_s
        return self._new(t) if ready and self.steps % self.every == 0 else []

    def active_at(self, t: float) -> bool:
        """Whether a set is under way at `t` (its exercise seen within `rest_s`)."""
        return bool(self.exercise) and t - self.last_seen <= self.rest_s

    def _new(self, t: float) -> list[dict]:
        b = self.buf
        reps = count(np.array([x[0] for x in b]), np.stack([x[1] for x in b]),
                     np.stack([x[2] for x in b]), np.stack([x[3] for x in b]), self.fps,
                     self.exercise in AT_TOP)  # fmt: skip
        # the reps told that have left the kept stretch, then the settled ones in it (not one
        # at its very first step: that movement began before the stretch)
        before = sum(at < b[0][0] + 0.5 / self.fps for at in self.told)
        settled = [r for r in reps if r.settled and r.at_s >= b[0][0] + 0.5 / self.fps]
        out = []
        for r in settled[max(0, self.total - before) :]:  # the ones beyond the count so far
            self.total += 1
            self.told.append(r.at_s)
            out.append(dict(t=round(t, 3), exercise=self.exercise, count=self.total,
                            at_s=round(r.at_s, 3)))  # fmt: skip
        return out
