"""Person tracks as numbers (numpy only): resampling to the model fps and one vector per frame.

A leaf of the flow that `people` (real videos), `synthetic` (generated skeletons), `train`
(augmentation) and `live` share. `pose_features` turns a person's keypoints into scale- and
position-free vectors: the one normalisation that real videos and synthetic skeletons go through.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from actrec.errors import ActrecError

N_JOINTS = 17  # COCO: 0 nose, 5/6 shoulders, 11/12 hips, ...
SHOULDERS, HIPS = (5, 6), (11, 12)
VISIBLE = 0.5  # ultralytics zeroes keypoints below this confidence: they are missing, not (0, 0)
MAX_GAP = 3  # missing runs up to this many frames are interpolated
PART_DIMS = {"pose": 3 * N_JOINTS, "velocity": 2 * N_JOINTS, "box": 3, "travel": 2}
TRAVEL_STEPS = 10  # travel: how far the hips went over the last 10 steps (a second at 10 fps)
FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]  # COCO joints, left ↔ right


def _fill_gaps(
    x: np.ndarray, ok: np.ndarray, max_gap: int = MAX_GAP
) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation over time of missing runs of up to `max_gap` frames between two
    seen values. x (T, K) with ok (T,) → filled x, new ok."""
    x, ok = x.copy(), ok.copy()
    seen = np.flatnonzero(ok)
    for a, b in zip(seen[:-1], seen[1:], strict=True):
        if 1 < b - a <= max_gap + 1:
            w = (np.arange(a + 1, b) - a) / (b - a)
            x[a + 1 : b] = x[a] + w[:, None] * (x[b] - x[a])
            ok[a + 1 : b] = True
    return x, ok


def midpoint(
    xy: np.ndarray, ok: np.ndarray, pair: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """(T, 17, 2), (T, 17) → the mean of the pair's visible joints (T, 2) and where any is seen."""
    w = ok[:, pair].astype(np.float32)  # (T, 2)
    n = w.sum(1)
    mid = (xy[:, pair] * w[..., None]).sum(1) / np.maximum(n, 1)[:, None]
    return mid, n > 0


def pose_features(
    xy: np.ndarray, conf: np.ndarray, boxes: np.ndarray, parts: list[str] | tuple = ("pose",
    "velocity", "box"), roi: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    """One person's track → (T, D) float32 features, D from `parts`.

    xy (T, 17, 2) keypoints in pixels, conf (T, 17), boxes (T, 4) xyxy pixels. Joints below 0.5
    confidence are missing: short gaps are interpolated, the rest masked (value 0, mask 0), never
    used as a position. Keypoints are centred on the hip midpoint (the box centre where no hip is
    seen) and divided by the track's median torso length (shoulder to hip midpoints, which side
    views keep, unlike shoulder width), or a third of its median box height without one.
    - pose: 17 (x, y) + 17 visibility flags; velocity: per-joint change from the previous frame
      (0 where either end is missing); box: centre velocity and log height change, relative to
      the box height; travel: the hips' mean shift over the last `TRAVEL_STEPS` steps (x, y), in
      torso lengths per five steps, its length squashed below 1 (smooth where box motion is
      jittery); roi: the backbone's maps averaged inside the box (`roi` (T, C), from
      `Backbone.roi_features`), always last.
    """
    xy = np.asarray(xy, np.float32)
    ok = np.asarray(conf) >= VISIBLE  # (T, 17)
    boxes = np.asarray(boxes, np.float32)
    for j in range(N_JOINTS):
        xy[:, j], ok[:, j] = _fill_gaps(xy[:, j], ok[:, j])
    height = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)  # (T,)
    centre_box = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], 1)
    hip, hip_ok = midpoint(xy, ok, HIPS)
    hip, hip_ok = _fill_gaps(hip, hip_ok, max_gap=len(hip))
    centre = np.where(hip_ok[:, None], hip, centre_box)  # (T, 2)
    shoulder, sh_ok = midpoint(xy, ok, SHOULDERS)
    torso = np.linalg.norm(shoulder - hip, axis=1)[sh_ok & hip_ok]
    scale = float(np.median(torso)) if len(torso) else float(np.median(height)) / 3
    scale = max(scale, 1e-3)
    pose = (xy - centre[:, None]) / scale * ok[..., None]  # (T, 17, 2), 0 where missing
    out = []
    if "pose" in parts:
        out += [pose.reshape(len(pose), -1), ok.astype(np.float32)]
    if "velocity" in parts:
        both = ok[1:] & ok[:-1]
        vel = np.zeros_like(pose)
        vel[1:] = (pose[1:] - pose[:-1]) * both[..., None]
        out.append(vel.reshape(len(pose), -1))
    if "box" in parts:
        motion = np.zeros((len(boxes), 3), np.float32)
        motion[1:, :2] = (centre_box[1:] - centre_box[:-1]) / height[1:, None]
        motion[1:, 2] = np.log(height[1:] / height[:-1])
        out.append(motion)
    if "travel" in parts:
        # the hip-centred pose cannot tell a pedestrian crossing a CCTV view from one walking on
        # the spot; this can. Looking back only, so live (which keeps a window and the second
        # before it) gets what predict gets
        k = TRAVEL_STEPS
        path = np.pad(centre / scale, ((k, 0), (0, 0)), mode="edge")  # (T + k, 2) torso lengths
        step = (path[k:] - path[:-k]) * (5 / k)  # (T, 2) torso lengths per five steps
        # saturated: whether and where the person goes, hardly how fast, which rests on the
        # camera (pedestrians seen from above cross as fast as the synthetic runners)
        speed = np.linalg.norm(step, axis=1, keepdims=True)
        out.append(step * np.tanh(2 * speed) / np.maximum(speed, 1e-6))  # (T, 2), |·| < 1
    if "roi" in parts:
        if roi is None:
            raise ActrecError("people.parts 'roi' needs the backbone's maps of a real video")
        out.append(np.asarray(roi, np.float32))
    return np.concatenate(out, 1).astype(np.float32)


def mirror(feats: np.ndarray, parts: list[str] | tuple) -> np.ndarray:
    """`pose_features` of the left-right mirrored video: x negated, left and right joints
    swapped. A training augmentation (a person waving their other hand is the same action)."""
    out, at = feats.copy(), 0
    t = len(feats)
    for part in (p for p in PART_DIMS if p in parts):  # pose_features' order, whatever `parts`'s
        block = out[:, at : at + PART_DIMS[part]]
        if part in ("pose", "velocity"):
            xy = block[:, : 2 * N_JOINTS].reshape(t, N_JOINTS, 2)[:, FLIP] * (-1, 1)
            block[:, : 2 * N_JOINTS] = xy.reshape(t, -1)
            if part == "pose":
                block[:, 2 * N_JOINTS :] = block[:, 2 * N_JOINTS :][:, FLIP]
        else:  # box: centre velocity x, y, log height change; travel: x, y
            block[:, 0] *= -1
        at += PART_DIMS[part]
    return out


def jitter(feats: np.ndarray, parts: list[str] | tuple, most: float = 0.2) -> np.ndarray:
    """`pose_features` as a pose detector blurs them on small people: per-joint noise (up to
    `most` torso lengths) and the knees and ankles swapped left for right now and then. A
    training augmentation (small people in CCTV were taken for runners without it); only the
    keypoints of the pose part change. Draws from numpy's global generator, which Lightning
    seeds."""
    if "pose" not in parts or most <= 0:
        return feats
    t = len(feats)
    out = feats.copy()
    xy = out[:, : 2 * N_JOINTS].reshape(t, N_JOINTS, 2)  # a view: edits land in `out`
    seen = out[:, 2 * N_JOINTS : 3 * N_JOINTS] > 0
    xy += np.random.normal(0, np.random.uniform(0, most), xy.shape) * seen[..., None]
    for a, b in ((13, 14), (15, 16)):  # knees, ankles
        swap = np.random.random(t) < np.random.uniform(0, 0.2)
        xy[swap, a], xy[swap, b] = xy[swap, b].copy(), xy[swap, a].copy()
    return out


def seen_share(feats: np.ndarray, parts: list[str] | tuple) -> np.ndarray | None:
    """(T, D) `pose_features` → (T,) the share of the 17 joints seen at each step (None
    without the pose part, which holds the visibility flags)."""
    if "pose" not in parts:
        return None
    return feats[:, 2 * N_JOINTS : 3 * N_JOINTS].mean(1)  # pose comes first: xy, then flags


@dataclass
class Track:
    """One person across the sampled frames of a video."""

    id: int
    times: list[float] = field(default_factory=list)  # seconds of each frame seen
    boxes: list[np.ndarray] = field(default_factory=list)  # (4,) xyxy in source pixels
    xy: list[np.ndarray] = field(default_factory=list)  # (17, 2) source pixels
    conf: list[np.ndarray] = field(default_factory=list)  # (17,)
    roi: list[np.ndarray] = field(default_factory=list)  # (C,) backbone maps inside the box

    def weight(self) -> float:
        """How much of a main actor it is: its box heights summed over its frames."""
        return float(sum(b[3] - b[1] for b in self.boxes))

    def joinable(self, other: Track) -> bool:
        """`other` could be this person after a tracker id switch: no common moment, and where
        one ends and the other begins their boxes lie within a box height of each other."""
        if other.times[0] > self.times[-1]:
            a, b = self.boxes[-1], other.boxes[0]
        elif other.times[-1] < self.times[0]:
            a, b = other.boxes[-1], self.boxes[0]
        else:
            return False
        centre = lambda x: np.array([(x[0] + x[2]) / 2, (x[1] + x[3]) / 2])  # noqa: E731
        return float(np.linalg.norm(centre(a) - centre(b))) <= max(a[3] - a[1], b[3] - b[1])

    def _per_frame(self) -> list[str]:
        """The lists holding one entry per frame seen (roi only where it is collected)."""
        return ["times", "boxes", "xy", "conf"] + (["roi"] if self.roi else [])

    def join(self, other: Track) -> None:
        """Take `other`'s frames in, in time order."""
        names = self._per_frame()
        rows = sorted(zip(*(getattr(self, n) + getattr(other, n) for n in names), strict=True),
                      key=lambda r: r[0])  # fmt: skip
        for name, column in zip(names, zip(*rows, strict=True), strict=True):
            setattr(self, name, list(column))

    def keep_last(self, n: int) -> None:
        """Forget all but the last `n` frames (live keeps one window: bounded memory)."""
        for name in self._per_frame():
            setattr(self, name, getattr(self, name)[-n:])

    def arrays(self, fps: float) -> dict[str, np.ndarray]:
        """The track on a uniform `fps` grid from its first to its last moment, so a 5 fps
        camera, a 30 fps phone and a track lost for a few frames all give the same time step.
        Values are interpolated between the frames around each grid time, at most MAX_GAP
        steps apart (a longer absence stays a gap); a joint counts as seen only when it is seen
        at both."""
        t = np.asarray(self.times, np.float64)
        grid = t[0] + np.arange(int(round((t[-1] - t[0]) * fps)) + 1) / fps
        i1 = np.clip(np.searchsorted(t, grid - 1e-6), 1, len(t) - 1) if len(t) > 1 else None
        roi = {"roi": np.stack(self.roi)} if self.roi else {}
        if i1 is None:
            return dict(times=t, boxes=np.stack(self.boxes), xy=np.stack(self.xy),
                        conf=np.stack(self.conf), **roi)  # fmt: skip
        i0 = i1 - 1
        w = np.clip((grid - t[i0]) / np.maximum(t[i1] - t[i0], 1e-9), 0, 1)
        boxes, xy, conf = np.stack(self.boxes), np.stack(self.xy), np.stack(self.conf)
        near = (t[i1] - t[i0]) <= (MAX_GAP + 1) / fps + 1e-6
        lerp = lambda a: a[i0] + (a[i1] - a[i0]) * w.reshape(-1, *[1] * (a.ndim - 1))  # noqa: E731
        seen = np.minimum(conf[i0], conf[i1]) * near[:, None]
        exact = np.isclose(w, 0) | np.isclose(w, 1)  # on a frame: its own confidence
        own = np.where(np.isclose(w, 1)[:, None], conf[i1], conf[i0])
        keep = near | exact  # a longer absence stays a gap: nothing is invented there
        return dict(times=grid[keep], boxes=lerp(boxes)[keep], xy=lerp(xy)[keep],
                    conf=np.where(exact[:, None], own, seen)[keep].astype(np.float32),
                    **{k: lerp(v)[keep] for k, v in roi.items()})  # fmt: skip
