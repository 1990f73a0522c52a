"""Synthetic bodies: a 3-D articulated person and the joint angles of each action, frame by frame.

The first half of `skeleton` (numpy only, before the whole flow): `draw_body` gives random
proportions, the cyclic upright actions here and the others in `actions` give the angles of one
action with its own tempo, amplitude, phase and asymmetry, `pose_3d` the 17 COCO joints in metres
(standing, turned to the floor, or hanging). `skeleton` films them and adds what a pose detector
does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

rad = np.deg2rad
Angles = dict[str, np.ndarray]


@dataclass(frozen=True)
class Body:
    """Segment lengths in metres (a person of `height`, proportions varied by a few %)."""

    height: float
    torso: float  # hip midpoint → shoulder midpoint
    shoulder: float  # half shoulder width
    hip: float  # half hip width
    upper_arm: float
    forearm: float
    thigh: float
    shin: float
    neck: float  # shoulder midpoint → nose


def draw_body(rng: np.random.Generator) -> Body:
    h = rng.uniform(1.45, 1.95)
    f = lambda x: x * h * rng.uniform(0.92, 1.08)  # noqa: E731
    # proportions as yolo11n-pose reports them, not as anatomy has them: on every real source the
    # thigh is 0.71-0.77 torso lengths and the shoulders 0.62-0.69 (the textbook 0.29 torso: 0.85+)
    return Body(h, f(0.34), f(0.11), f(0.068), f(0.186), f(0.146), f(0.245), f(0.246), f(0.12))


# ---- motion: per frame, the joint angles of one action -------------------------------------------


def _cycle(t: np.ndarray, hz: float, phase: float) -> np.ndarray:
    return 2 * np.pi * hz * t + phase


def _up(x: np.ndarray) -> np.ndarray:
    """0 → 0, π → 1: a smooth 0..1 oscillation of a phase."""
    return (1 - np.cos(x)) / 2


def _turned(m: Angles, t: np.ndarray) -> None:
    """The whole-body turn keys (`pose_3d` turns the body off its feet), upright for now."""
    m.setdefault("tilt", np.zeros_like(t))
    m.setdefault("side", np.zeros_like(t))


def _rest(t: np.ndarray, rng: np.random.Generator) -> Angles:
    """Standing relaxed: arms hanging, slightly bent, legs straight."""
    z = np.zeros_like(t)
    m = dict(pitch=z + rad(rng.uniform(-3, 8)), roll=z.copy(), lift=z.copy(), speed=z.copy())
    for s in "lr":
        m |= {f"flex_{s}": z + rad(rng.uniform(-5, 10)), f"abd_{s}": z + rad(rng.uniform(3, 15)),
              f"elbow_{s}": z + rad(rng.uniform(5, 25)), f"bend_{s}": np.array([0.0, 0.2, 1.0]),
              f"leg_{s}": z.copy(), f"spread_{s}": z + rad(rng.uniform(0, 4)),
              f"knee_{s}": z + rad(3)}  # fmt: skip
    return m


def _gait(m: Angles, t: np.ndarray, rng: np.random.Generator, ph: float, run: bool,
          in_place: bool = False) -> None:  # fmt: skip
    """Walking or running: legs and arms swing in opposition, the hips bob twice a cycle. In
    place, half the time the legs step on the spot instead (knees lifted, feet under the body),
    as people walking or jogging on the spot for a phone camera do."""
    z = np.zeros_like(t)
    hz = rng.uniform(1.25, 1.6) if run else rng.uniform(0.75, 1.05)
    swing = rad(rng.uniform(22, 48) if run else rng.uniform(15, 27))  # jogging to sprinting
    arm = rad(rng.uniform(25, 50) if run else rng.uniform(8, 30))
    elbow = rad(rng.uniform(60, 105) if run else rng.uniform(10, 35))
    knee_peak = rad(rng.uniform(60, 125) if run else rng.uniform(50, 68))
    on_spot = in_place and rng.random() < 0.5
    lift = rad(rng.uniform(30, 85) if run else rng.uniform(8, 40))  # how high a knee comes up
    for s, off in (("l", 0.0), ("r", np.pi)):
        c = _cycle(t, hz, ph + off)
        if on_spot:  # the thigh only comes forward; the shin hangs down or folds back
            up = np.clip(np.sin(c), 0, 1) ** 1.3 * rng.uniform(0.85, 1.15)
            m[f"leg_{s}"] = lift * up
            m[f"knee_{s}"] = rad(3) + lift * up * rng.uniform(1.0, 1.7)
        else:
            m[f"leg_{s}"] = swing * np.sin(c) * rng.uniform(0.85, 1.15) + (rad(8) if run else 0)
            m[f"knee_{s}"] = rad(8 if run else 3) + knee_peak * np.clip(np.cos(c), 0, 1) ** 1.5
        m[f"flex_{s}"] = -arm * np.sin(c) * rng.uniform(0.85, 1.15)
        m[f"elbow_{s}"] = elbow + rad(10) * np.sin(c)
        m[f"abd_{s}"] = z + rad(rng.uniform(3, 12))
    m["pitch"] = z + rad(rng.uniform(4, 14) if run and not on_spot else rng.uniform(-2, 6))
    # the shoulders rock sideways with each step: what a runner facing the camera shows most
    m["roll"] = rad(rng.uniform(3, 10) if run else rng.uniform(1, 5)) * np.sin(_cycle(t, hz, ph))
    m["lift"] = (rng.uniform(0.04, 0.1) if run else 0.015) * _up(_cycle(t, 2 * hz, 2 * ph))
    leg = 0.5 * np.ptp(m["leg_l"])
    # a cycle is two steps of about 2 · leg length · sin(swing)
    m["speed"] = z + hz * 4 * 0.9 * np.sin(leg) * rng.uniform(0.85, 1.1) * (not on_spot)


def _wave(m: Angles, t: np.ndarray, rng: np.random.Generator, ph: float, both: bool) -> None:
    """One or both arms: the whole arm sweeping over the head, or the forearm wagging."""
    z = np.zeros_like(t)
    sides = "lr" if both else rng.choice(["l", "r"])
    arc = rng.random() < 0.5
    # a whole arm sweeping is slower than a forearm wagging (KTH's waver: 0.6 Hz), and slower
    # than most jumping jacks: what tells the two apart is then the legs
    hz = rng.uniform(0.45, 1.6) if arc else rng.uniform(1.0, 2.5) * rng.uniform(0.75, 1.15)
    sync = rng.choice([0.0, np.pi], p=[0.75, 0.25])  # both arms together, or in turn
    for k, s in enumerate(sides):
        c = _cycle(t, hz, ph + k * sync)
        if arc:
            lo, hi = rad(rng.uniform(0, 120)), rad(rng.uniform(150, 178))  # from hanging, too
            m[f"abd_{s}"] = lo + (hi - lo) * _up(c)
            m[f"elbow_{s}"] = z + rad(rng.uniform(0, 30))
            m[f"bend_{s}"] = np.array([-1.0, 0.3, 0.2])
        else:
            m[f"abd_{s}"] = z + rad(rng.uniform(60, 140))
            m[f"flex_{s}"] = z + rad(rng.uniform(0, 40))
            m[f"elbow_{s}"] = rad(rng.uniform(60, 100)) + rad(rng.uniform(20, 40)) * np.sin(c)
            m[f"bend_{s}"] = np.array([-0.3, 1.0, 0.2])


def _jacks(m: Angles, t: np.ndarray, rng: np.random.Generator, ph: float) -> None:
    """Arms from the sides to over the head while the legs spread, a hop at each change."""
    z = np.zeros_like(t)
    c = _cycle(t, rng.uniform(0.8, 1.5) * rng.uniform(0.8, 1.2), ph)
    for s in "lr":
        hi = rad(rng.uniform(140, 180))
        m[f"abd_{s}"] = rad(rng.uniform(5, 20)) + (hi - rad(10)) * _up(c)
        m[f"elbow_{s}"] = z + rad(rng.uniform(0, 25))
        m[f"spread_{s}"] = rad(rng.uniform(2, 5)) + rad(rng.uniform(12, 28)) * _up(c)
        m[f"knee_{s}"] = rad(5) + rad(rng.uniform(5, 25)) * np.abs(np.sin(c))
    m["lift"] = rng.uniform(0.03, 0.14) * np.abs(np.sin(c))


def _clap(m: Angles, t: np.ndarray, rng: np.random.Generator, ph: float) -> None:
    """Hands meeting in front of the chest (or, sometimes, over the head)."""
    z = np.zeros_like(t)
    c = _cycle(t, rng.uniform(1.5, 4.0), ph)
    high = rng.random() < 0.2
    for s in "lr":
        m[f"flex_{s}"] = z + rad(rng.uniform(140, 170) if high else rng.uniform(25, 70))
        m[f"abd_{s}"] = rad(rng.uniform(5, 25)) + rad(rng.uniform(5, 15)) * _up(c)
        elbow = rad(20 if high else rng.uniform(50, 90))
        m[f"elbow_{s}"] = elbow + rad(rng.uniform(15, 30)) * _up(c)
        m[f"bend_{s}"] = np.array([-1.0, 0.4, 0.3])


def _bend(m: Angles, t: np.ndarray, rng: np.random.Generator, ph: float) -> None:
    """The trunk folds forward and back up, slowly; the arms hang or reach for the floor."""
    z = np.zeros_like(t)
    c = _cycle(t, rng.uniform(0.2, 0.5), ph)
    m["pitch"] = rad(rng.uniform(55, 110)) * _up(c)
    for s in "lr":
        m[f"flex_{s}"] = rad(rng.uniform(-5, 25)) * _up(c)
        m[f"abd_{s}"] = z + rad(rng.uniform(0, 10))
        m[f"knee_{s}"] = rad(3) + rad(rng.uniform(0, 40)) * _up(c)
        m[f"leg_{s}"] = m[f"knee_{s}"] / 2


def _jump(m: Angles, t: np.ndarray, rng: np.random.Generator, ph: float) -> None:
    """Crouch, take off, land, both legs together: a steady bounce with the arms anywhere from
    kept low to thrown up, or (half the clips) separate high jumps with a pause between, the
    arms swung back in the crouch and thrown up for the take-off."""
    if rng.random() < 0.5:
        c = _cycle(t, rng.uniform(0.8, 2.0), ph)
        air, crouch = np.clip(np.sin(c), 0, None), np.clip(-np.sin(c), 0, None)
        m["lift"] = rng.uniform(0.08, 0.35) * air
        arms, back = rad(rng.uniform(0, 160)), rad(rng.uniform(0, 40))
    else:
        air, crouch = _high_jumps(t, rng, ph, height := rng.uniform(0.15, 0.55))
        m["lift"] = height * air**0.7  # a parabola's top is flat
        arms, back = rad(rng.uniform(90, 175)), rad(rng.uniform(20, 60))
    for s in "lr":
        m[f"knee_{s}"] = rad(5) + rad(rng.uniform(40, 90)) * crouch
        m[f"leg_{s}"] = m[f"knee_{s}"] * 0.55
        m[f"flex_{s}"] = arms * air - back * crouch
    m["pitch"] = rad(rng.uniform(5, 25)) * crouch


def _high_jumps(t: np.ndarray, rng: np.random.Generator, ph: float,
                height: float) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """One jump `height` m high every few seconds → (T,) flight and crouch, each 0..1: a 0.3 s
    crouch, the flight (as long as gravity makes it), a 0.4 s landing, then standing."""
    flight = 2 * np.sqrt(2 * height / 9.81)
    period = flight + 0.7 + rng.uniform(0.0, 1.6)
    u = (t + ph / (2 * np.pi) * period) % period  # (T,) seconds into the current jump
    air = np.clip(np.sin(np.pi * (u - 0.3) / flight), 0, None) * ((u >= 0.3) & (u <= 0.3 + flight))
    landing = (u - 0.3 - flight) / 0.4
    crouch = np.sin(np.pi * np.clip(u / 0.3, 0, 1)) + np.sin(np.pi * np.clip(landing, 0, 1))
    return air, crouch


def _stand(m: Angles, t: np.ndarray, rng: np.random.Generator, ph: float) -> None:
    """Still: a slow sway, hands on the hips or in the pockets now and then, small gestures."""
    z = np.zeros_like(t)
    m["pitch"] = m["pitch"] + rad(rng.uniform(0, 3)) * np.sin(_cycle(t, rng.uniform(0.1, 0.4), ph))
    for s in "lr":
        if rng.random() < 0.3:
            m[f"abd_{s}"] = z + rad(rng.uniform(10, 45))
            m[f"elbow_{s}"] = z + rad(rng.uniform(40, 110))
            m[f"bend_{s}"] = np.array([-1.0, 0.0, rng.uniform(-0.5, 1.0)])
        drift = np.sin(_cycle(t, rng.uniform(0.1, 0.5), rng.uniform(0, 6)))
        m[f"flex_{s}"] = m[f"flex_{s}"] + rad(rng.uniform(0, 6)) * drift


# ---- the body in 3-D: angles → joint positions ---------------------------------------------------


def _limb(flex: np.ndarray, abd: np.ndarray, side: float) -> np.ndarray:
    """(T,) forward and sideways angles from hanging straight down → (T, 3) unit directions in
    the body frame (x: the person's left, y: up, z: forward)."""
    return np.stack(
        [side * np.cos(flex) * np.sin(abd), -np.cos(flex) * np.cos(abd), np.sin(flex)], 1
    )


def _fold(upper: np.ndarray, angle: np.ndarray, bend: np.ndarray) -> np.ndarray:
    """The forearm: `upper` (T, 3) turned by `angle` (T,) towards `bend` (3,)."""
    b = bend / np.linalg.norm(bend)
    perp = b - (upper @ b)[:, None] * upper
    norm = np.linalg.norm(perp, axis=1, keepdims=True)
    # a bend along the upper arm has no direction of its own: fold forward instead
    perp = np.where(norm > 1e-3, perp / np.maximum(norm, 1e-6), [0.0, 0.0, 1.0])
    return np.cos(angle)[:, None] * upper + np.sin(angle)[:, None] * perp


def pose_3d(body: Body, m: dict[str, np.ndarray]) -> np.ndarray:
    """Angles per frame → (T, 17, 3) COCO joints in the body frame, feet on the ground (y = 0),
    plus the top of the head and the soles as rows 17, 18, 19 (for the box)."""
    t = len(m["pitch"])
    out = np.zeros((t, 20, 3))
    p, r = m["pitch"], m["roll"]
    spine = np.stack([-np.cos(p) * np.sin(r), np.cos(p) * np.cos(r), np.sin(p)], 1)  # (T, 3)
    front = np.stack([np.sin(p) * np.sin(r), -np.sin(p) * np.cos(r), np.cos(p)], 1)  # the chest's
    lat = np.stack([np.cos(r), np.sin(r), 0 * r], 1)  # the shoulder line, tilted by the roll
    neck = spine * body.torso
    nose = neck + spine * body.neck * 0.8 + front * body.height * 0.05
    out[:, 0] = nose
    for side, eye, ear in ((1.0, 1, 3), (-1.0, 2, 4)):
        out[:, eye] = (
            nose + spine * 0.03 * body.height + side * lat * 0.03 * body.height - front * 0.02
        )
        out[:, ear] = (
            nose + spine * 0.02 * body.height + side * lat * 0.07 * body.height - front * 0.09
        )
    out[:, 17] = nose + spine * 0.09 * body.height
    legs = []
    for side, s, (sh, el, wr, hp, kn, an) in ((1.0, "l", (5, 7, 9, 11, 13, 15)),
                                               (-1.0, "r", (6, 8, 10, 12, 14, 16))):  # fmt: skip
        out[:, sh] = neck + side * lat * body.shoulder
        upper = _limb(m[f"flex_{s}"], m[f"abd_{s}"], side)
        bend = m[f"bend_{s}"] * np.array([side, 1.0, 1.0])
        out[:, el] = out[:, sh] + upper * body.upper_arm
        out[:, wr] = out[:, el] + _fold(upper, m[f"elbow_{s}"], bend) * body.forearm
        out[:, hp] = side * np.array([1.0, 0.0, 0.0]) * body.hip  # the pelvis stays level
        thigh = _limb(m[f"leg_{s}"], m[f"spread_{s}"], side)
        shin = _limb(m[f"leg_{s}"] - m[f"knee_{s}"], m[f"spread_{s}"], side)
        out[:, kn] = out[:, hp] + thigh * body.thigh
        out[:, an] = out[:, kn] + shin * body.shin
        legs.append(out[:, an, 1])
    out[:, 18:20] = out[:, [15, 16]] - [0.0, 0.045 * body.height, 0.0]
    ground = -np.minimum(*legs) + 0.045 * body.height  # the lower foot touches the ground
    if "tilt" in m:  # the whole body leaves upright (a fall, lying, a push-up, a sit-up)
        tilt = _plank(out, m["tilt"]) if "plank" in m else m["tilt"]
        out = _turn(out, tilt, m["side"])
        # and rests on whatever is lowest: soles, hands, knees, back or side (the joints lie a
        # few centimetres inside the body)
        ground = -np.minimum(out[:, 18:20, 1].min(1), out[:, :18, 1].min(1) - 0.05 * body.height)
    if "bar" in m:  # hanging: the hands hold a bar `bar` metres high
        ground = m["bar"] - out[:, [9, 10], 1].mean(1)
    out[..., 1] += (ground + m["lift"])[:, None]
    return out


def _plank(out: np.ndarray, tilt: np.ndarray) -> np.ndarray:
    """On hands and toes: the tilt near `tilt` (T,) (within ±20°) at which the lower wrist and
    the lower sole are level, so the body rests on both (a push-up)."""
    deltas = rad(np.linspace(-20, 20, 81))
    gap = np.stack([_level_gap(out, tilt + d) for d in deltas])  # (81, T)
    return tilt + deltas[np.abs(gap).argmin(0)]


def _level_gap(out: np.ndarray, tilt: np.ndarray) -> np.ndarray:
    """(T,) how far the lower wrist lies above the lower sole with the body turned by `tilt`."""
    turned = _turn(out, tilt, np.zeros_like(tilt))
    return turned[:, [9, 10], 1].min(1) - turned[:, 18:20, 1].min(1)


def _turn(p: np.ndarray, tilt: np.ndarray, side: np.ndarray) -> np.ndarray:
    """(T, J, 3) body-frame points turned about the pelvis: `tilt` (T,) forward about the
    shoulder line (π/2: face down; -π/2: on the back), then `side` (T,) towards the person's
    right (π/2: on the right side)."""
    ct, st, cs, ss = (f(a)[:, None] for a in (tilt, side) for f in (np.cos, np.sin))
    x, y, z = p[..., 0], p[..., 1] * ct - p[..., 2] * st, p[..., 1] * st + p[..., 2] * ct
    return np.stack([x * cs - y * ss, x * ss + y * cs, z], -1)
