"""Workouts and fights for the synthetic bodies: squats, push-ups, sit-ups, pull-ups, lunges,
punches and kicks.

Beside `actions` (which registers them with the rest), after `body` (the angles they set and
`pose_3d`, which turns, levels or hangs the body as these ask). Each draws its tempo, depth and
style from what bodies do, not from any clip.
"""

from __future__ import annotations

import numpy as np

from actrec.synthetic.body import Angles, _cycle, _turned, _up, rad


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
