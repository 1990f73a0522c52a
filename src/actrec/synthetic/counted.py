"""Workouts with a known number of repetitions: synthetic skeletons for the rep counter.

Beside `skeleton` (which films a body and adds a pose detector's errors): the same bodies and
cameras, but the exercise's time is warped so that the tempo changes within the set and the
person pauses at the bottom, and the true moment of every rep is known (the lowest point of the
shoulders, or the highest for `reps.AT_TOP` exercises; the feet furthest apart for jumping jacks).
`reps` tests and `bench/reps.py` tune on these, never on a real clip.
"""

from __future__ import annotations

import numpy as np

from actrec.pose import FLIP
from actrec.reps import AT_TOP
from actrec.synthetic.actions import motion
from actrec.synthetic.body import draw_body, pose_3d
from actrec.synthetic.skeleton import Clip, detect, draw_camera, film

DENSE = 0.01  # seconds: the grid the body moves on before the camera samples it


def _moments(joints: np.ndarray, action: str) -> np.ndarray:
    """(T, 20, 3) joints on the dense grid → the indices of each rep's moment (y is up)."""
    if action == "jumping_jacks":
        h = np.abs(joints[:, 15, 0] - joints[:, 16, 0])  # the feet: furthest apart
    else:
        h = joints[:, [5, 6], 1].mean(1)  # the shoulders
        h = h if action in AT_TOP else -h
    i = np.arange(1, len(h) - 1)
    peak = i[(h[i] > h[i - 1]) & (h[i] >= h[i + 1])]
    span = np.ptp(h)
    # a real extreme, not a wobble: it rises over the surroundings by a fifth of the range
    return np.array([p for p in peak if h[p] - h[max(0, p - 100) : p + 100].min() > 0.2 * span])


def counted_clip(action: str, rng: np.random.Generator, seconds: float = 20.0, fps: float = 10.0,
                 tempo: float = 0.4, pause_s: float = 1.0, mirror: bool = False,
                 drop: float = 0.0) -> tuple[Clip, np.ndarray]:  # fmt: skip
    """One person doing `action` for about `seconds` at `fps`: the tempo swings by ±`tempo`
    over the set and they hold `pause_s` at each rep's moment; `mirror`: filmed from the other
    side (left and right swapped, x flipped); `drop`: this share of the joints missing at
    random. → (the track as `skeleton` gives it, the true rep times (s))."""
    tau = np.arange(0, seconds * 1.5, DENSE)  # the exercise's own time
    while True:  # a person the detector mostly missed is filmed again
        body, cam = draw_body(rng), draw_camera(rng)
        m = motion(action, tau, rng, in_place=True)
        joints = pose_3d(body, m)  # (N, 20, 3)
        moments = _moments(joints, action)
        # film time: slower and faster over the set, and a hold at each moment
        rate = 1 + tempo * np.sin(2 * np.pi * tau / seconds + rng.uniform(0, 2 * np.pi))
        dt = np.full(len(tau), DENSE) / rate
        dt[moments] += pause_s  # held there
        clock = np.concatenate([[0.0], np.cumsum(dt[:-1])])  # film time of each dense step
        t = np.arange(0, min(seconds, clock[-1]), 1 / fps)
        k = np.searchsorted(clock, t, side="right") - 1  # the dense step shown at each frame
        uv, away = film(joints[k], m["speed"][k], t, body.height, cam)
        track = detect(uv, away, cam, t, rng)
        if len(track["times"]) >= max(2, len(t) // 2):
            break
    if mirror:
        w = cam.size[0]
        track["xy"] = np.where(track["conf"][..., None] > 0, [w, 0] + [-1, 1] * track["xy"], 0)
        track["xy"], track["conf"] = track["xy"][:, FLIP], track["conf"][:, FLIP]
        b = track["boxes"]
        track["boxes"] = np.stack([w - b[:, 2], b[:, 1], w - b[:, 0], b[:, 3]], 1)
    if drop:
        gone = rng.random(track["conf"].shape) < drop
        track["conf"] = np.where(gone, 0.0, track["conf"])
        track["xy"] = np.where(gone[..., None], 0.0, track["xy"])
    # a moment's time: the middle of its hold; counted where the clip shows any of the hold
    start, end = clock[moments], clock[moments] + pause_s + DENSE
    shown = (end >= track["times"][0]) & (start <= track["times"][-1])
    return track, (start + pause_s / 2)[shown]
