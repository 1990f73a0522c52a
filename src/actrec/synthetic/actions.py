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
    _up,
    _wave,
    rad,
)
from actrec.synthetic.synth import CLASSES as VIDEO_CLASSES

# one-off actions (events on a person's timeline; `events.EVENTS`), then the states and workouts
ONE_OFF = ("falling", "sitting_down", "standing_up")
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


def _turned(m: Angles, t: np.ndarray) -> None:
    """The whole-body turn keys, upright for now."""
    m.setdefault("tilt", np.zeros_like(t))
    m.setdefault("side", np.zeros_like(t))


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


def _squat(m: Angles, t: np.ndarray, rng: np.random.Generator, ph: float) -> None:
    """Hips down and back, knees forward, the trunk leaning; arms forward, on the hips or behind
    the head."""
    c = _up(_cycle(t, rng.uniform(0.25, 0.7), ph))
    depth = rad(rng.uniform(55, 110))
    arms = rng.choice(["forward", "hips", "head", "hang"])
    m["pitch"] = rad(rng.uniform(0, 10)) + rad(rng.uniform(10, 45)) * c
    for s in "lr":
        m[f"leg_{s}"] = depth * c
        m[f"knee_{s}"] = rad(3) + depth * rng.uniform(1.1, 1.4) * c
        m[f"spread_{s}"] = m[f"spread_{s}"] + rad(rng.uniform(0, 15))
        if arms == "forward":
            m[f"flex_{s}"] = rad(rng.uniform(0, 30)) + rad(rng.uniform(50, 80)) * c
            m[f"elbow_{s}"] = m[f"elbow_{s}"] * 0 + rad(rng.uniform(0, 20))
        elif arms in ("hips", "head"):
            m[f"abd_{s}"] = m[f"abd_{s}"] * 0 + rad(rng.uniform(25, 45))
            m[f"flex_{s}"] = m[f"flex_{s}"] * 0 + rad(0 if arms == "hips" else 140)
            m[f"elbow_{s}"] = m[f"elbow_{s}"] * 0 + rad(rng.uniform(90, 130))


def _push_up(m: Angles, t: np.ndarray, rng: np.random.Generator, ph: float) -> None:
    """A plank on hands and toes; the elbows bend and the body sinks towards the floor."""
    c = _up(_cycle(t, rng.uniform(0.35, 1.0), ph))
    _turned(m, t)
    e = rad(rng.uniform(5, 15)) + rad(rng.uniform(55, 100)) * c
    # as steep as the arms are long against shoulders-to-toes (0.38: 22° up, elbows straight)
    m["tilt"] = rad(rng.uniform(66, 69)) + rad(7) * e / rad(90)
    m["plank"] = np.ones_like(t)  # pose_3d levels hands and toes
    m["pitch"] = m["pitch"] * 0 + rad(rng.uniform(-4, 6))  # straight, a slight pike or sag
    for s in "lr":
        m[f"flex_{s}"] = m["tilt"] - e / 2 + rad(rng.uniform(-8, 8))  # hands under the shoulders
        m[f"abd_{s}"] = m[f"abd_{s}"] * 0 + rad(rng.uniform(5, 35))
        m[f"elbow_{s}"] = e
        m[f"bend_{s}"] = np.array([0.0, 0.0, 1.0])
        m[f"knee_{s}"] = m[f"knee_{s}"] * 0 + rad(rng.uniform(0, 10))


def _sit_up(m: Angles, t: np.ndarray, rng: np.random.Generator, ph: float) -> None:
    """On the back, knees up, feet on the floor (or a bench); the trunk curls up and down."""
    c = _up(_cycle(t, rng.uniform(0.25, 0.6), ph))
    _turned(m, t)
    m["tilt"] = m["tilt"] * 0 - rad(rng.uniform(80, 95))
    m["pitch"] = rad(rng.uniform(0, 10)) + rad(rng.uniform(45, 85)) * c
    arms = rng.choice(["head", "chest", "reach"])
    for s in "lr":
        m[f"leg_{s}"] = m[f"leg_{s}"] * 0 + rad(rng.uniform(35, 70))
        m[f"knee_{s}"] = m[f"knee_{s}"] * 0 + rad(rng.uniform(70, 110))
        flex, elbow = {"head": (160, 130), "chest": (80, 120), "reach": (50, 10)}[arms]
        m[f"flex_{s}"] = m[f"flex_{s}"] * 0 + rad(flex + rng.uniform(-15, 15))
        m[f"elbow_{s}"] = m[f"elbow_{s}"] * 0 + rad(elbow + rng.uniform(-15, 15))


def _pull_up(m: Angles, t: np.ndarray, rng: np.random.Generator, ph: float) -> None:
    """Hanging from a bar; the elbows bend and the body rises until the chin nears the bar."""
    c = _up(_cycle(t, rng.uniform(0.2, 0.5), ph))
    e = rad(rng.uniform(5, 15)) + rad(rng.uniform(90, 140)) * c
    m["bar"] = np.zeros_like(t) + rng.uniform(2.0, 2.6)
    bent = rng.random() < 0.5  # knees bent, ankles crossed
    m["pitch"] = m["pitch"] * 0 + rad(rng.uniform(-5, 10)) * np.sin(_cycle(t, 0.3, ph))
    for s in "lr":
        m[f"flex_{s}"] = m[f"flex_{s}"] * 0 + rad(rng.uniform(0, 25))
        m[f"abd_{s}"] = rad(rng.uniform(160, 178)) - e * 0.45  # the elbows come down and out
        m[f"elbow_{s}"] = e
        m[f"bend_{s}"] = np.array([-1.0, 1.0, 0.0])
        m[f"knee_{s}"] = m[f"knee_{s}"] * 0 + rad(rng.uniform(40, 90) if bent else 3)
        m[f"leg_{s}"] = m[f"leg_{s}"] * 0 + rad(rng.uniform(0, 30) if bent else 0)


def _lunge(m: Angles, t: np.ndarray, rng: np.random.Generator, ph: float) -> None:
    """One leg forward, both knees bent until the back knee nears the floor, up, the other leg;
    in place or walking."""
    phase = rng.uniform(0.25, 0.5) * t + ph / (2 * np.pi)
    rep, frac = np.floor(phase), phase % 1
    dep = np.sin(np.pi * frac) ** 2
    left = rep % 2 == 0
    hands = rng.choice(["hips", "hang"])
    for s, front in (("l", left), ("r", ~left)):
        m[f"leg_{s}"] = np.where(front, rad(rng.uniform(70, 90)), -rad(rng.uniform(15, 30))) * dep
        m[f"knee_{s}"] = rad(3) + np.where(front, rad(rng.uniform(80, 100)),
                                           rad(rng.uniform(70, 100))) * dep  # fmt: skip
        if hands == "hips":
            m[f"abd_{s}"] = m[f"abd_{s}"] * 0 + rad(rng.uniform(25, 45))
            m[f"elbow_{s}"] = m[f"elbow_{s}"] * 0 + rad(rng.uniform(90, 120))
    m["pitch"] = m["pitch"] + rad(rng.uniform(0, 12)) * dep
    if rng.random() < 0.5:  # walking lunges: a step forward each rep
        m["speed"] = m["speed"] * 0 + rng.uniform(0.3, 0.8) * dep


def _guard(m: Angles, t: np.ndarray, rng: np.random.Generator) -> None:
    """A fighter's stance: fists up by the chin, one foot forward, a light bounce."""
    z = np.zeros_like(t)
    for s, foot in (("l", 1.0), ("r", -1.0)):
        m[f"flex_{s}"] = z + rad(rng.uniform(40, 70))
        m[f"abd_{s}"] = z + rad(rng.uniform(5, 25))
        m[f"elbow_{s}"] = z + rad(rng.uniform(100, 140))
        m[f"bend_{s}"] = np.array([-0.3, 1.0, 0.2])
        m[f"leg_{s}"] = z + foot * rad(rng.uniform(5, 18))
        m[f"knee_{s}"] = z + rad(rng.uniform(8, 25))
    m["pitch"] = z + rad(rng.uniform(3, 15))
    m["lift"] = rng.uniform(0.0, 0.03) * _up(_cycle(t, rng.uniform(1.5, 2.5), 0))


def _strikes(t: np.ndarray, rng: np.random.Generator, rate: float, lasts: tuple[float, float]):
    """Moments of strikes at about `rate` a second → per strike (start, duration)."""
    out, at = [], rng.uniform(0, 0.6)
    while at < (t[-1] if len(t) else 0):
        d = rng.uniform(*lasts)
        out.append((at, d))
        at += d + rng.exponential(1 / rate)
    return out


def _punch(m: Angles, t: np.ndarray, rng: np.random.Generator, ph: float) -> None:
    """Jabs, crosses, hooks and uppercuts from the guard, alone or in combinations, at a bag
    or at the air."""
    _guard(m, t, rng)
    for k, (at, d) in enumerate(_strikes(t, rng, rng.uniform(1.0, 3.5), (0.15, 0.35))):
        p = np.sin(np.pi * np.clip((t - at) / d, 0, 1))  # out and back
        s = "lr"[k % 2] if rng.random() < 0.7 else rng.choice(["l", "r"])
        kind = rng.choice(["straight", "hook", "upper"], p=[0.65, 0.25, 0.1])
        flex, abd, elbow = {"straight": (rng.uniform(80, 100), 10, rng.uniform(0, 20)),
                            "hook": (80, rng.uniform(55, 85), rng.uniform(75, 100)),
                            "upper": (rng.uniform(100, 130), 10, 90)}[kind]  # fmt: skip
        for key, to in ((f"flex_{s}", flex), (f"abd_{s}", abd), (f"elbow_{s}", elbow)):
            m[key] = m[key] + (rad(to) - m[key]) * p
        m["roll"] = m["roll"] + rad(rng.uniform(2, 8)) * p * (1 if s == "l" else -1)


def _kick(m: Angles, t: np.ndarray, rng: np.random.Generator, ph: float) -> None:
    """Front, side and round kicks from the guard: the knee comes up, the leg snaps out and
    back, the trunk leans away."""
    _guard(m, t, rng)
    for at, d in _strikes(t, rng, rng.uniform(0.4, 1.2), (0.4, 0.8)):
        u = np.clip((t - at) / d, 0, 1)
        p, chamber = np.sin(np.pi * u), np.sin(2 * np.pi * u) ** 2
        s = rng.choice(["l", "r"])
        side = rng.random() < 0.4
        m[f"leg_{s}"] = m[f"leg_{s}"] + (rad(rng.uniform(40, 100) * (0.5 if side else 1))) * p
        m[f"knee_{s}"] = m[f"knee_{s}"] + rad(rng.uniform(60, 110)) * chamber
        if side:
            m[f"spread_{s}"] = m[f"spread_{s}"] + rad(rng.uniform(40, 80)) * p
            m["roll"] = m["roll"] + rad(rng.uniform(10, 30)) * p * (1 if s == "r" else -1)
        else:
            m["pitch"] = m["pitch"] - rad(rng.uniform(5, 20)) * p


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
