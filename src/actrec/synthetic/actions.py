"""Every synthetic action: the upright cycles of `body`, and what takes the body off its feet.

Between `body` (the body, its cyclic upright actions, `pose_3d`) and `skeleton` (the camera and
the pose detector). The actions here move the pelvis off its upright path: a fall ends on the
floor, a push-up and a sit-up rest on the hands or the back (`tilt`, `side`: the whole body
turned; it rests on its lowest point), a pull-up hangs from a bar (`bar`); sitting folds the legs
under a seat. Each draws its tempo, depth and style from what bodies do, not from any clip.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from actrec.events import EVENTS
from actrec.synthetic.body import (
    Angles,
    _bend,
    _clap,
    _cycle,
    _gait,
    _jacks,
    _jump,
    _rest,
    _stand,
    _turned,
    _wave,
    rad,
)
from actrec.synthetic.synth import CLASSES as VIDEO_CLASSES
from actrec.synthetic.workouts import _kick, _lunge, _pull_up, _punch, _push_up, _sit_up, _squat

# one-off actions (events on a person's timeline; `events.EVENTS`), then the states and workouts
ONE_OFF = EVENTS  # the one-off actions: events on a timeline, not labels of windows
NEW = (*ONE_OFF, "lying", "sitting", "squat", "push_up", "sit_up", "pull_up", "lunge",
       "punching", "kicking")  # fmt: skip
CLASSES: tuple[str, ...] = (*VIDEO_CLASSES, "standing", *NEW)


def _ease(u: np.ndarray) -> np.ndarray:
    """0 → 0, 1 → 1, smooth at both ends (a body starting and stopping a movement)."""
    u = np.clip(u, 0, 1)
    return u * u * (3 - 2 * u)


def _moment(t: np.ndarray, rng: np.random.Generator, lasts: float) -> float:
    """When a one-off movement of `lasts` seconds starts, so that it lies inside the clip."""
    end = float(t[-1]) if len(t) else 0.0
    return float(rng.uniform(min(0.2, end / 4), max(0.25, end - lasts - 0.3)))


def _blend(m: Angles, target: Angles, w: np.ndarray) -> None:
    """m ← m·(1 - w) + target·w per key (`w` (T,) from 0 to 1)."""
    for k, v in target.items():
        m[k] = m[k] * (1 - w) + v * w if k in m else v * w


def _fall(m: Angles, t: np.ndarray, rng: np.random.Generator, ph: float) -> None:
    """Standing or walking, then down in 0.5-1.3 s (gravity: slow to start, fast at the end),
    forwards, backwards, sideways, or the knees giving way first; then lying, nearly still."""
    if rng.random() < 0.5:
        _gait(m, t, rng, ph, run=False)
    d = rng.uniform(0.5, 1.3)
    u = np.clip((t - _moment(t, rng, d)) / d, 0, 1)
    kind = rng.choice(["forward", "backward", "side", "collapse"], p=[0.3, 0.3, 0.25, 0.15])
    down = rad(rng.uniform(85, 95))  # flat on the floor at the end
    z = np.zeros_like(t)
    _turned(m, t)
    w = _ease(u)
    g = u**2 if kind != "collapse" else np.clip(2 * u - 1, 0, 1) ** 2  # falls accelerate
    side = rng.choice([-1.0, 1.0])
    if kind == "forward":
        m["tilt"] = down * g
    elif kind == "backward":
        m["tilt"] = -down * g
    else:  # sideways, or (collapse) whichever way the body goes once the knees give way
        m["side"] = side * down * g
        m["tilt"] = rad(rng.uniform(-25, 25)) * g
    knee = rad(rng.uniform(90, 130) if kind == "collapse" else rng.uniform(10, 60))
    crumple = np.sin(np.pi * np.clip(u, 0, 1)) if kind != "collapse" else np.clip(2 * u, 0, 1)
    how = {"forward": "front", "backward": "back"}.get(kind, "side")
    if kind == "collapse":
        how = "front" if m["tilt"][-1] > rad(45) else "side"
    target: Angles = dict(speed=z, roll=z, lift=z)
    for s in "lr":
        lie = _on_the_floor(how, rng)
        reach = rad(rng.uniform(40, 100)) * np.sin(np.pi * u) * (how == "front")  # to brace
        target |= {f"knee_{s}": knee * crumple + lie["knee"] * u,
                   f"leg_{s}": knee * 0.6 * crumple + lie["leg"] * u,
                   f"flex_{s}": lie["flex"] + reach, f"abd_{s}": z + lie["abd"],
                   f"elbow_{s}": z + lie["elbow"], "pitch": z + lie["pitch"]}  # fmt: skip
    _blend(m, target, w)
    _stir(m, t, rng, u >= 1)


def _stir(m: Angles, t: np.ndarray, rng: np.random.Generator, where: np.ndarray) -> None:
    """A person on the floor is nearly still: small, slow movements of a limb and the head."""
    slow = np.sin(_cycle(t, rng.uniform(0.1, 0.4), rng.uniform(0, 6)))
    for k in ("flex_l", "flex_r", "knee_l", "knee_r", "pitch"):
        m[k] = m[k] + rad(rng.uniform(0, 8)) * slow * where


def _on_the_floor(how: str, rng: np.random.Generator) -> dict[str, float]:
    """One side's arm and leg for a body lying on its `how` (back, front, side), and the trunk's
    bend: limbs along the floor, never propping the body up on a limb (face down, an elbow or a
    hip bent forward would push into the floor)."""
    knee = rad(rng.uniform(0, 40 if how == "front" else 60 if how == "back" else 80))
    if how == "front":  # arms along the body or overhead, flat; a bent knee lifts the foot
        flex = rng.uniform(-15, 0) if rng.random() < 0.5 else rng.uniform(170, 185)
        return dict(
            flex=rad(flex),
            abd=rad(rng.uniform(0, 40)),
            elbow=rad(rng.uniform(0, 10)),
            knee=knee,
            leg=-rad(rng.uniform(0, 8)),
            pitch=rad(rng.uniform(-10, 5)),
        )
    abd = rng.uniform(0, 80) if how == "back" else rng.uniform(0, 15)  # on a side: not under it
    return dict(
        flex=rad(rng.uniform(0, 120)),
        abd=rad(abd),
        elbow=rad(rng.uniform(0, 110)),
        knee=knee,
        leg=knee * rng.uniform(0.3, 0.8),
        pitch=rad(rng.uniform(-5, 30)),
    )


def _lie(m: Angles, t: np.ndarray, rng: np.random.Generator, ph: float) -> None:
    """Lying still on a floor or a bed: on the back, the front or a side."""
    z = np.zeros_like(t)
    how = str(rng.choice(["back", "front", "side"]))
    down = rad(rng.uniform(85, 95))
    m["tilt"] = z + (
        -down if how == "back" else down if how == "front" else rad(rng.uniform(-20, 20))
    )
    m["side"] = z + (rng.choice([-1.0, 1.0]) * down if how == "side" else rad(rng.uniform(-10, 10)))
    for s in "lr":
        lie = _on_the_floor(how, rng)
        for k in ("flex", "abd", "elbow", "knee", "leg"):
            m[f"{k}_{s}"] = z + lie[k]
        m["pitch"] = z + lie["pitch"]
    _stir(m, t, rng, np.ones_like(t, bool))


def _seated(m: Angles, rng: np.random.Generator, z: np.ndarray) -> Angles:
    """The angles of a seated person: a chair, a sofa (lower: knees higher) or a bed's edge."""
    seat = rng.uniform(0, 1)  # 0: a high stool or bed, 1: a low sofa
    hip = rad(75 + 25 * seat + rng.uniform(-8, 8))
    out: Angles = dict(pitch=z + rad(rng.uniform(-15, 12)), speed=z, lift=z)
    for s in "lr":
        out |= {f"leg_{s}": z + hip + rad(rng.uniform(-5, 5)),
                f"knee_{s}": z + hip + rad(rng.uniform(-15, 25)),
                f"spread_{s}": z + rad(rng.uniform(0, 15)),
                f"flex_{s}": z + rad(rng.uniform(10, 60)),
                f"elbow_{s}": z + rad(rng.uniform(30, 100))}  # fmt: skip
    return out


def _sit_down(m: Angles, t: np.ndarray, rng: np.random.Generator, ph: float,
              rise: bool = False) -> None:  # fmt: skip
    """Standing, then seated in 0.8-2 s, leaning forward on the way (or, `rise`, the same
    backwards: seated, leaning forward to push up, standing)."""
    if not rise and rng.random() < 0.4:
        _gait(m, t, rng, ph, run=False)  # walking up to the seat
    d = rng.uniform(0.8, 2.0)
    u = np.clip((t - _moment(t, rng, d)) / d, 0, 1)
    z = np.zeros_like(t)
    seated = _seated(m, rng, z)
    w = _ease(1 - u if rise else u)
    _blend(m, seated, w)
    lean = rad(rng.uniform(20, 45)) * np.sin(np.pi * u)  # the trunk goes forward over the feet
    m["pitch"] = m["pitch"] + lean
    for s in "lr":  # a hand on the seat or a knee, now and then
        m[f"flex_{s}"] = m[f"flex_{s}"] + rad(rng.uniform(-30, 30)) * np.sin(np.pi * u)


def _sit(m: Angles, t: np.ndarray, rng: np.random.Generator, ph: float) -> None:
    """Seated, nearly still: talking, a hand moving, shifting on the seat."""
    _blend(m, _seated(m, rng, np.zeros_like(t)), np.ones_like(t))
    _stir(m, t, rng, np.ones_like(t, bool))


MOTIONS: dict[str, Callable[..., None]] = {
    "walking": lambda m, t, rng, ph, in_place=False: _gait(m, t, rng, ph, False, in_place),
    "running": lambda m, t, rng, ph, in_place=False: _gait(m, t, rng, ph, True, in_place),
    "waving_one_hand": lambda m, t, rng, ph: _wave(m, t, rng, ph, both=False),
    "waving_both_hands": lambda m, t, rng, ph: _wave(m, t, rng, ph, both=True),
    "jumping_jacks": _jacks,
    "clapping": _clap,
    "bending": _bend,
    "jumping_in_place": _jump,
    "standing": _stand,
    "falling": _fall,
    "sitting_down": _sit_down,
    "standing_up": lambda m, t, rng, ph: _sit_down(m, t, rng, ph, rise=True),
    "lying": _lie,
    "sitting": _sit,
    "squat": _squat,
    "push_up": _push_up,
    "sit_up": _sit_up,
    "pull_up": _pull_up,
    "lunge": _lunge,
    "punching": _punch,
    "kicking": _kick,
}


def motion(action: str, t: np.ndarray, rng: np.random.Generator, in_place: bool = False) -> Angles:
    """Angles (radians) per frame for `t` (T,) seconds. Keys: pitch (trunk bend forward), roll
    (trunk lean sideways), lift (extra height of the hips, m), speed (m/s along the facing
    direction), and per side s in 'lr': flex_s / abd_s (upper arm forward / sideways from
    hanging), elbow_s, bend_s (where the forearm folds, body frame: lateral-out, up, forward),
    leg_s (hip flexion), spread_s (hip abduction), knee_s. Off its feet: tilt and side (the whole
    body turned), bar (hanging). `in_place`: the person does not travel (a treadmill, or on the
    spot)."""
    if action not in MOTIONS:
        raise ValueError(f"unknown action {action!r}; known: {', '.join(CLASSES)}")
    m = _rest(t, rng)
    gait = {"in_place": in_place} if action in ("walking", "running") else {}
    MOTIONS[action](m, t, rng, rng.uniform(0, 2 * np.pi), **gait)
    return m
