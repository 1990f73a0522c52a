"""Synthetic skeletons: the 17 COCO keypoints of a 3-D body in motion, as a pose detector sees them.

Beside `synth` at the start of the flow (numpy only, nothing rendered). A clip is a `body`
body doing one action (sometimes in slow motion), filmed by a perspective camera at a random yaw,
pitch and distance; then what ultralytics' pose model does to it: jitter growing for small
people, confidences, dropped joints reported as (0, 0), left/right swaps, truncation at the frame
edge, frames with nobody found. The output has the shape of a tracked person (`times`, `xy`,
`conf`, `boxes`), so `pose.Track` and `pose.pose_features` turn it into features exactly as
they do for a real video (`builtin` trains on them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from actrec.errors import ActrecError
from actrec.pose import VISIBLE
from actrec.synthetic.actions import CLASSES, NEW, ONE_OFF, motion
from actrec.synthetic.body import draw_body, pose_3d, rad

FACE = (0, 1, 2, 3, 4)  # nose, eyes, ears
LIMB_PAIRS = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))
Clip = dict[str, np.ndarray]  # one tracked person: times (N,), xy (N, 17, 2), conf (N, 17), boxes

# ---- the camera and the pose detector -------------------------------------------------------

# stock and sports footage is often slow motion (120-240 fps played back at 25-30): this share of
# each class's clips is slowed 1.5-4 times. Not jumping jacks: slowed, their arms sweep as slowly
# as a waver's and only the legs tell the two apart (with slowed jacks, KTH's waver was taken for
# jumping jacks on three training seeds of three; without them, waving on three)
SLOW_MOTION = {c: 0.15 for c in CLASSES if c != "jumping_jacks" and c not in NEW}
# a one-off action (a fall, sitting down) is a clip about a window long with the event inside, so
# that a training crop cannot miss it
ONE_OFF_SECONDS = (2.4, 3.4)
FRAMES = ((640, 480), (1280, 720), (720, 1280), (320, 240), (768, 576), (1920, 1080))


@dataclass(frozen=True)
class Camera:
    """How one clip is filmed. yaw: where the person faces (0: the camera, ±π/2: side on)."""

    size: tuple[int, int]  # frame width, height in pixels
    yaw: float
    in_place: bool  # a treadmill, or a camera that pans with the person
    dist: float  # metres to the person at the start
    height: float  # of the camera, metres
    tilt: float  # looking down, radians
    px_h: float  # the person's height in pixels
    at: tuple[float, float]  # where the hips are, as fractions of the frame
    crop: float | None  # a tight crop: the frame ends this far from mid-thigh to the soles


def _yaw(rng: np.random.Generator) -> float:
    """Where people face in footage: often the camera (phones, treadmills, people coming
    closer), often side on (crossing the view), away from it, or anything in between."""
    centre = rng.choice([0.0, np.pi / 2, -np.pi / 2, np.pi], p=[0.4, 0.2, 0.2, 0.2])
    spread = rad(30) if rng.random() < 0.8 else np.pi
    return float(centre + rng.uniform(-spread, spread))


def draw_camera(rng: np.random.Generator) -> Camera:
    w, h = FRAMES[rng.integers(len(FRAMES))]
    cam_h, tilt = rng.uniform(1.5, 3.5), rad(rng.uniform(-5, 25))
    if rng.random() < 0.25:  # CCTV: high up, looking down
        cam_h, tilt = rng.uniform(2.5, 6.0), rad(rng.uniform(15, 40))
    return Camera(
        (w, h), _yaw(rng), bool(rng.random() < 0.4), rng.uniform(2.5, 12), cam_h,
        tilt, float(np.exp(rng.uniform(np.log(0.12), np.log(0.9))) * h),
        (rng.uniform(0.3, 0.7), rng.uniform(0.4, 0.7)),
        float(rng.uniform(0, 1)) if rng.random() < 0.1 else None,
    )  # fmt: skip


def film(joints: np.ndarray, speed: np.ndarray, t: np.ndarray, height: float,
         cam: Camera) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(T, 20, 3) body-frame joints of a person `height` m tall, travelling at `speed` (T,) m/s
    → (T, 20, 2) pixels through a perspective camera, and whether each joint lies behind the
    hips as the camera sees it (T, 20): the far side, often hidden."""
    w, h = cam.size
    yaw = cam.yaw
    fwd, left = np.array([np.sin(yaw), 0, -np.cos(yaw)]), np.array([np.cos(yaw), 0, np.sin(yaw)])
    travel = np.cumsum(speed * np.diff(t, prepend=t[0])) * (not cam.in_place)  # (T,) metres
    dist = cam.dist + max(0.0, travel[-1] * np.cos(yaw))  # never reaches the camera
    world = joints[..., :1] * left + joints[..., 1:2] * [0, 1, 0] + joints[..., 2:] * fwd
    world = world + (travel[:, None] * fwd)[:, None] + [0, 0, dist]  # (T, 20, 3)
    y, z = world[..., 1] - cam.height, world[..., 2]
    yc = y * np.cos(cam.tilt) + z * np.sin(cam.tilt)
    zc = np.maximum(-y * np.sin(cam.tilt) + z * np.cos(cam.tilt), 0.3)
    f = cam.px_h * dist / height  # focal length in pixels
    uv = np.stack([f * world[..., 0] / zc, -f * yc / zc], -1)  # (T, 20, 2)
    hips = uv[:, [11, 12]].reshape(-1, 2).mean(0)  # a traveller's path is centred, roughly
    uv = uv + [cam.at[0] * w - hips[0], cam.at[1] * h - hips[1]]
    if cam.crop is not None:  # the frame's bottom edge between mid-thigh and the soles
        hip_y, knees = np.median(uv[:, [11, 12], 1]), np.median(uv[:, [13, 14], 1])
        top, soles = (hip_y + knees) / 2, np.median(uv[:, 18:20, 1])
        uv[..., 1] += h - (top + cam.crop * (soles - top))
    depth = world[..., 2] - world[:, [11, 12], 2].mean(1, keepdims=True)
    return uv, depth > 0.05


def detect(uv: np.ndarray, away: np.ndarray, cam: Camera, t: np.ndarray, rng: np.random.Generator,
           imgsz: int = 320, level: bool = True) -> Clip:  # fmt: skip
    """What the pose model reports for the true pixels `uv` (T, 20, 2): per found frame, 17
    keypoints with jitter and confidences (below 0.5 → (0, 0), as ultralytics gives them),
    a box, occasional left/right swaps; joints off the frame are missing and frames where
    little is seen are dropped. `imgsz`: the detection size, which sets the jitter."""
    (w, h), px_h = cam.size, cam.px_h
    n = len(t)
    det_h = px_h * imgsz / max(w, h)  # the person's height where the detector looks
    # jitter per unit of body height. Real tracks (median frame-to-frame second difference of
    # the shoulders and hips, per body height): 0.2-0.7 % for still people 250-300 px tall,
    # 0.8-2.8 % for vtest.avi's pedestrians (about 110 px at the detection size)
    rel = rng.uniform(0.001, 0.005) + rng.uniform(0.15, 1.0) / max(det_h, 10)
    noise = rng.normal(0, rel * px_h, (n, 17, 2))
    # real pose models put both ankles at nearly one height whatever the feet do: |dy| of
    # 0.01-0.11 torso lengths on every real clip measured (runners too), 0.1-0.5 in the geometry
    uv = uv.copy()
    if level:  # measured on people on their feet; a kick or a fall keeps its feet apart
        foot = uv[:, [15, 16], 1].max(1, keepdims=True)  # (T, 1) the foot on the ground (y down)
        uv[:, [15, 16], 1] = foot + rng.uniform(0.0, 0.3) * (uv[:, [15, 16], 1] - foot)
    drift = np.cumsum(rng.normal(0, rel * px_h * 0.2, (n, 17, 2)), 0)  # slow wobble
    xy = uv[:, :17] + noise + drift - drift.mean(0)
    small = np.clip(1 - det_h / 80, 0, 1)
    conf = rng.uniform(0.7, 0.99, 17) - small * rng.uniform(0, 0.5, 17)  # per clip and joint
    conf = conf + rng.normal(0, 0.06, (n, 17))
    hidden = rng.uniform(0.0, 0.25)  # how much the body hides its far side
    conf = conf - away[:, :17] * hidden
    conf[:, FACE] -= away[:, FACE] * rng.uniform(0.1, 0.5)  # a face turned away
    drop = rng.random((n, 17)) < rng.uniform(0, 0.08)
    conf[drop] = rng.uniform(0.05, 0.45, drop.sum())
    off = (xy[..., 0] < 0) | (xy[..., 0] >= w) | (xy[..., 1] < 0) | (xy[..., 1] >= h)
    conf[off] = rng.uniform(0.0, 0.3, off.sum())
    conf = np.clip(conf, 0.0, 1.0)
    legs_vague = np.clip(1.5 - det_h / 150, 0, 1)  # under ~200 px, left and right legs mix up
    if rng.random() < 0.3 + 0.5 * legs_vague:  # left and right confused for a few frames
        for start in np.flatnonzero(rng.random(n) < rng.uniform(0.01, 0.08 + 0.15 * legs_vague)):
            seg = slice(start, start + rng.integers(1, 5))
            pairs = LIMB_PAIRS if rng.random() < 0.5 else LIMB_PAIRS[-2:]  # often the legs alone
            for a, b in pairs:
                xy[seg, [a, b]], conf[seg, [a, b]] = xy[seg, [b, a]], conf[seg, [b, a]]
    lo, hi = uv.min(1), uv.max(1)  # (T, 2) the whole body, head top and soles included
    pad = rng.normal(0.03, 0.01, (n, 4)) * px_h
    boxes = np.concatenate([lo - pad[:, :2], hi + pad[:, 2:]], 1)
    boxes = np.clip(boxes, 0, [w, h, w, h])
    seen = (conf >= VISIBLE).sum(1)
    keep = (seen >= 5) & (rng.random(n) >= rng.uniform(0, 0.06))
    xy = np.where((conf >= VISIBLE)[..., None], xy, 0.0)
    return dict(times=t[keep], xy=xy[keep].astype(np.float32), conf=conf[keep].astype(np.float32),
                boxes=boxes[keep].astype(np.float32))  # fmt: skip


def skeleton_clip(action: str, rng: np.random.Generator, seconds: float | None = None,
                  fps: float = 10.0, slow: float | None = None) -> Clip:  # fmt: skip
    """One synthetic tracked person doing `action`: `times` (N,), `xy` (N, 17, 2) pixels,
    `conf` (N, 17), `boxes` (N, 4) xyxy, for the frames where the detector found them. The
    camera runs at `fps` or, sometimes, slower (CCTV), as the pipeline samples real videos.
    `slow`: played this many times slower than life (default: drawn, see SLOW_MOTION)."""
    # a few short ones, as phone clips of one jump or a few steps
    if action in ONE_OFF:
        seconds = seconds or rng.uniform(*ONE_OFF_SECONDS)
    seconds = seconds or (rng.uniform(1.0, 3.0) if rng.random() < 0.15 else rng.uniform(3.0, 8.0))
    rate = fps if rng.random() < 0.8 else rng.choice([fps / 2, fps * 0.6, fps * 0.75])
    t = np.arange(0, seconds, 1 / rate)
    if slow is None:
        share = SLOW_MOTION.get(action, 0.0)
        slow = rng.uniform(1.5, 4.0) if share and rng.random() < share else 1.0
    lived = t / slow  # (N,) seconds of the action the frames show
    while True:  # a person the detector mostly missed is filmed again
        body, cam = draw_body(rng), draw_camera(rng)
        m = motion(action, lived, rng, cam.in_place)
        uv, away = film(pose_3d(body, m), m["speed"], lived, body.height, cam)
        found = detect(uv, away, cam, t, rng, level=action not in NEW)
        if len(found["times"]) >= max(2, len(t) // 2):
            return found


def skeleton_dataset(classes: list[str] | tuple[str, ...], per_class: int, seed: int = 0,
                     fps: float = 10.0) -> tuple[list[Clip], list[int]]:  # fmt: skip
    """`per_class` clips of each class → (clips, class ids); the same for the same seed."""
    clips, labels = [], []
    for k, action in enumerate(classes):
        # a class's clips depend on the seed and the class alone, not on the other classes asked
        rng = np.random.default_rng([seed, CLASSES.index(action)])
        for _ in range(per_class):
            clips.append(skeleton_clip(action, rng, fps=fps))
            labels.append(k)
    return clips, labels


def write(out: str | Path, classes: list[str], per_class: int, seed: int = 0,
          fps: float = 10.0) -> Path:  # fmt: skip
    """`skeleton_dataset` → `out/skeletons.npz`: every clip's frames end to end (`times`, `xy`,
    `conf`, `boxes`), `offsets` where each clip starts, `labels` and `classes`."""
    if unknown := [c for c in classes if c not in CLASSES]:
        raise ActrecError(f"unknown skeleton class {unknown[0]!r}; known: {', '.join(CLASSES)}")
    clips, labels = skeleton_dataset(classes, per_class, seed, fps)
    path = Path(out) / "skeletons.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".skeletons.tmp.npz")
    cat = {k: np.concatenate([c[k] for c in clips]) for k in ("times", "xy", "conf", "boxes")}
    offsets = np.cumsum([0] + [len(c["times"]) for c in clips])
    np.savez_compressed(tmp, **cat, offsets=offsets, labels=np.array(labels),
                        classes=np.array(classes), fps=fps)  # fmt: skip
    tmp.replace(path)  # whole or not at all
    return path


def read(path: str | Path) -> tuple[list[Clip], list[int], list[str]]:
    """`skeletons.npz` → (clips, class ids, class names), as `skeleton_dataset` made them."""
    with np.load(path) as z:
        o = z["offsets"]
        clips = [{k: z[k][a:b] for k in ("times", "xy", "conf", "boxes")}
                 for a, b in zip(o[:-1], o[1:], strict=True)]  # fmt: skip
        return clips, z["labels"].tolist(), z["classes"].tolist()
