"""Embedded default dataset: procedurally generated videos of articulated figures doing actions.

Sits before the whole flow: it writes a folder-per-class dataset that `catalog` reads. Only the
motion depends on the class; everything a model could use as a shortcut (colours, body
proportions, size, position, background, lighting, tempo, phase, direction, camera jitter, noise,
clip length) is drawn independently of it. Performers (`_aNN_` in the file name) share their
appearance across clips, so a split grouped by performer tests on unseen people.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from actrec.errors import ActrecError

CLASSES: tuple[str, ...] = (
    "walking",
    "running",
    "waving_one_hand",
    "waving_both_hands",
    "jumping_jacks",
    "clapping",
    "bending",
    "jumping_in_place",
)

# Classes filmed from the side (limbs swing in the image plane); the others face the camera.
SIDE_VIEW = {"walking", "running", "bending"}
# Base cycle frequency (Hz) before the per-clip tempo factor; tempo ranges overlap across classes.
BASE_HZ = {
    "walking": 0.9,
    "running": 1.5,
    "waving_one_hand": 1.4,
    "waving_both_hands": 1.4,
    "jumping_jacks": 1.1,
    "clapping": 1.8,
    "bending": 0.45,
    "jumping_in_place": 1.3,
}


@dataclass(frozen=True)
class Performer:
    """Appearance of one person, shared by all their clips."""

    skin: tuple[int, int, int]
    shirt: tuple[int, int, int]
    pants: tuple[int, int, int]
    limb: float  # limb thickness as a fraction of body height
    torso: float  # segment lengths as fractions of body height
    upper_arm: float
    forearm: float
    thigh: float
    shin: float
    head: float
    shoulder: float  # half shoulder width


@dataclass
class Pose:
    """Joint angles (radians, 0 = hanging straight down, + = towards the facing direction)."""

    lean: float = 0.0  # torso tilt from vertical
    arm: tuple[float, float] = (0.1, 0.1)  # shoulder angle, (near, far) or (right, left)
    elbow: tuple[float, float] = (0.0, 0.0)
    hip: tuple[float, float] = (0.0, 0.0)
    knee: tuple[float, float] = (0.0, 0.0)
    lift: float = 0.0  # pelvis height above standing, fraction of body height
    shift: float = 0.0  # horizontal travel, body heights


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(20, 236, size=3))


def draw_performer(rng: np.random.Generator) -> Performer:
    """Random appearance: colours and body proportions."""
    return Performer(
        skin=_colour(rng),
        shirt=_colour(rng),
        pants=_colour(rng),
        limb=float(rng.uniform(0.035, 0.07)),
        torso=float(rng.uniform(0.27, 0.33)),
        upper_arm=float(rng.uniform(0.15, 0.19)),
        forearm=float(rng.uniform(0.14, 0.18)),
        thigh=float(rng.uniform(0.22, 0.26)),
        shin=float(rng.uniform(0.21, 0.25)),
        head=float(rng.uniform(0.06, 0.08)),
        shoulder=float(rng.uniform(0.08, 0.12)),
    )


def pose_at(action: str, phase: float, t: float) -> Pose:
    """The pose of `action` at cycle phase `phase` (radians) and time `t` (s, for travel)."""
    s, c = math.sin(phase), math.cos(phase)
    if action == "walking":
        return Pose(
            arm=(-0.35 * s, 0.35 * s),
            elbow=(0.25, 0.25),
            hip=(0.4 * s, -0.4 * s),
            knee=(0.5 * max(0.0, -c), 0.5 * max(0.0, c)),
            lift=0.01 * abs(c),
        )
    if action == "running":
        return Pose(
            lean=0.25,
            arm=(-0.8 * s, 0.8 * s),
            elbow=(1.5, 1.5),
            hip=(0.8 * s, -0.8 * s),
            knee=(0.4 + 0.9 * max(0.0, -c), 0.4 + 0.9 * max(0.0, c)),
            lift=0.05 * abs(s),
        )
    if action == "waving_one_hand":
        return Pose(arm=(2.5 + 0.3 * s, 0.15), elbow=(0.9 * s, 0.0))
    if action == "waving_both_hands":
        return Pose(arm=(2.5 + 0.3 * s, 2.5 - 0.3 * s), elbow=(0.9 * s, -0.9 * s))
    if action == "jumping_jacks":
        u = 0.5 - 0.5 * c  # 0 = closed, 1 = open
        return Pose(arm=(0.15 + 2.7 * u,) * 2, hip=(0.4 * u,) * 2, lift=0.06 * abs(s))
    if action == "clapping":
        u = 0.5 - 0.5 * c
        return Pose(arm=(1.3 - 0.5 * u,) * 2, elbow=(-0.2 - 1.4 * u,) * 2)
    if action == "bending":
        u = 0.5 - 0.5 * c
        return Pose(lean=1.4 * u, arm=(1.4 * u,) * 2, hip=(-0.25 * u,) * 2)
    if action == "jumping_in_place":
        up = max(0.0, s)
        crouch = max(0.0, -s)
        return Pose(
            arm=(0.5 * up,) * 2,
            hip=(0.5 * crouch, 0.5 * crouch),
            knee=(1.0 * crouch,) * 2,
            lift=0.18 * up - 0.05 * crouch,
        )
    raise ActrecError(f"unknown synthetic action '{action}'; known: {', '.join(CLASSES)}")


def _end(x: float, y: float, angle: float, length: float, facing: float) -> tuple[float, float]:
    # Image y grows downwards; angle 0 hangs straight down, + swings towards the facing side.
    return x + facing * length * math.sin(angle), y + length * math.cos(angle)


def _segments(p: Performer, pose: Pose, side: bool, facing: float, hip_xy, height: float):
    """Yield (start, end, colour, thickness) limb segments and the head centre, in pixels."""
    hx, hy = hip_xy
    L = height
    nx, ny = _end(hx, hy, math.pi - pose.lean, p.torso * L, facing)  # neck
    segs = [((hx, hy), (nx, ny), p.shirt, 2.2)]
    for i in range(2):
        # Frontal view: the two limbs mirror each other; side view: both swing in the same plane.
        f = facing if side else (1.0 if i == 0 else -1.0)
        sx = nx if side else nx + f * p.shoulder * L
        ex, ey = _end(sx, ny, pose.arm[i] + (pose.lean if side else 0.0), p.upper_arm * L, f)
        wx, wy = _end(ex, ey, pose.arm[i] + pose.elbow[i], p.forearm * L, f)
        segs += [((sx, ny), (ex, ey), p.shirt, 1.0), ((ex, ey), (wx, wy), p.skin, 0.9)]
        px = hx if side else hx + f * 0.4 * p.shoulder * L
        kx, ky = _end(px, hy, pose.hip[i], p.thigh * L, f)
        ax, ay = _end(kx, ky, pose.hip[i] - pose.knee[i], p.shin * L, f)
        segs += [((px, hy), (kx, ky), p.pants, 1.2), ((kx, ky), (ax, ay), p.pants, 1.0)]
    hcx, hcy = _end(nx, ny, math.pi - pose.lean, p.head * L * 1.4, facing)
    return segs, (hcx, hcy)


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A textured backdrop: a colour gradient plus low-frequency blobs, float32 (H, W, 3)."""
    c0, c1 = rng.uniform(30, 225, size=(2, 3))
    ramp = np.linspace(0, 1, h if rng.random() < 0.5 else w, dtype=np.float32)
    ramp = ramp[:, None] if len(ramp) == h else ramp[None, :]
    img = c0 + (c1 - c0) * np.broadcast_to(ramp, (h, w))[..., None]
    coarse = rng.normal(0, rng.uniform(5, 30), size=(rng.integers(3, 9), rng.integers(3, 9), 3))
    img += cv2.resize(coarse.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    fine = rng.normal(0, rng.uniform(0, 12), size=(h // 4, w // 4, 3)).astype(np.float32)
    img += cv2.resize(fine, (w, h), interpolation=cv2.INTER_NEAREST)
    return img


def render_clip(
    action: str,
    performer: Performer,
    rng: np.random.Generator,
    size: tuple[int, int] = (160, 120),
    fps: float = 25.0,
) -> np.ndarray:
    """Render one clip as uint8 BGR frames (T, H, W, 3)."""
    w, h = size
    n = int(rng.uniform(2.5, 4.5) * fps)
    side = action in SIDE_VIEW
    facing = 1.0 if rng.random() < 0.5 else -1.0
    height = rng.uniform(0.45, 0.75) * h
    tempo = rng.uniform(0.75, 1.3)
    phase0 = rng.uniform(0, 2 * math.pi)
    ground = rng.uniform(0.85, 0.97) * h
    travel = {"walking": 0.3, "running": 0.6}.get(action, 0.0) * tempo * height  # px / s
    # Travellers start where they stay in frame; everyone else stands anywhere.
    span = travel * n / fps
    x0 = rng.uniform(0.2 * w, 0.8 * w) - facing * span / 2
    gain, bias = rng.uniform(0.6, 1.25), rng.uniform(-25, 25)
    noise = rng.uniform(0, 8)
    jitter = np.cumsum(rng.normal(0, rng.uniform(0, 0.8), size=(n, 2)), axis=0)
    back = _background(rng, h + 16, w + 16)
    frames = np.empty((n, h, w, 3), np.uint8)
    for i in range(n):
        t = i / fps
        pose = pose_at(action, phase0 + 2 * math.pi * BASE_HZ[action] * tempo * t, t)
        dx, dy = np.clip(jitter[i], -8, 8)
        img = back[8 + int(dy) : 8 + int(dy) + h, 8 + int(dx) : 8 + int(dx) + w].copy()
        leg = (performer.thigh + performer.shin) * height
        hip = (x0 + facing * travel * t + dx, ground - leg - pose.lift * height + dy)
        segs, head = _segments(performer, pose, side, facing, hip, height)
        for a, b, col, k in segs:
            th = max(1, int(round(k * performer.limb * height)))
            cv2.line(img, _px(a), _px(b), col, th, cv2.LINE_AA)
        cv2.circle(img, _px(head), max(2, int(performer.head * height)), performer.skin, -1)
        img = img * gain + bias + rng.normal(0, noise, size=img.shape)
        frames[i] = np.clip(img, 0, 255).astype(np.uint8)
    return frames


def _px(p: tuple[float, float]) -> tuple[int, int]:
    return int(round(p[0])), int(round(p[1]))


def write_video(path: Path, frames: np.ndarray, fps: float) -> None:
    """Write BGR frames (T, H, W, 3) as an MPEG-4 file, via a temporary name (atomic)."""
    tmp = path.with_name(path.stem + ".part" + path.suffix)
    h, w = frames.shape[1:3]
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()
    tmp.replace(path)


def _render_job(job: tuple) -> None:
    path, action, performer, seed, k, size, fps = job
    rng = np.random.default_rng([seed, 2, CLASSES.index(action), k])
    write_video(Path(path), render_clip(action, performer, rng, size, fps), fps)


def generate(
    out: str | Path,
    classes: list[str] | tuple[str, ...] = CLASSES,
    clips_per_class: int = 40,
    performers: int = 10,
    seed: int = 0,
    size: tuple[int, int] = (160, 120),
    fps: float = 25.0,
    progress: bool = True,
    workers: int | None = None,
) -> Path:
    """Write `out/<class>/<class>_aNN_cNN.mp4`; existing files are kept, so a rerun resumes.

    Each clip has its own seeded generator, so the result does not depend on `workers`.
    """
    out = Path(out)
    unknown = [c for c in classes if c not in CLASSES]
    if unknown:
        raise ActrecError(f"unknown synthetic class {unknown[0]!r}; known: {', '.join(CLASSES)}")
    people = [draw_performer(np.random.default_rng([seed, 1, a])) for a in range(performers)]
    jobs = []
    for action in classes:
        (out / action).mkdir(parents=True, exist_ok=True)
        for k in range(clips_per_class):
            actor = k % performers
            path = out / action / f"{action}_a{actor:02d}_c{k // performers:02d}.mp4"
            if not path.exists():
                jobs.append((str(path), action, people[actor], seed, k, size, fps))
    from rich.progress import track

    workers = workers or min(len(jobs), os.cpu_count() or 1)
    with ProcessPoolExecutor(max(1, workers)) as pool:
        done = pool.map(_render_job, jobs, chunksize=4)
        for _ in track(done, total=len(jobs), description="synth", disable=not progress):
            pass
    return out
