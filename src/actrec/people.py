"""The person stream: pose model → people tracked across frames → one vector per person and frame.

Beside `backbone` in the flow (it runs the backbone's pose weights through ultralytics), before
`features`. Per sampled frame the pose model gives boxes and 17 COCO keypoints, batched over a
chunk of frames; ultralytics' own tracker (ByteTrack or BoT-SORT) links people from frame to frame.
`pose_features` turns a person's keypoints into scale- and position-free vectors: the one
normalisation that real videos and synthetic skeletons share.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from actrec.backbone import Backbone
from actrec.config import PeopleSettings
from actrec.errors import ActrecError

N_JOINTS = 17  # COCO: 0 nose, 5/6 shoulders, 11/12 hips, ...
SHOULDERS, HIPS = (5, 6), (11, 12)
VISIBLE = 0.5  # ultralytics zeroes keypoints below this confidence: they are missing, not (0, 0)
MAX_GAP = 3  # missing runs up to this many frames are interpolated
PART_DIMS = {"pose": 3 * N_JOINTS, "velocity": 2 * N_JOINTS, "box": 3, "travel": 2}
TRAVEL_STEPS = 10  # travel: how far the hips went over the last 10 steps (a second at 10 fps)
FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]  # COCO joints, left ↔ right
DETECT_BATCH = (
    4  # frames per pose-model call: at imgsz 960, 32 at once peaked at 2.3 GB, 8 at 1.4, 1 at 1.0
)
PEOPLE_VERSION = 3  # bump when the person features change
MIN_SEEN = 0.4  # a window where fewer of a person's joints are seen is labelled unsure ('…')


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


def _midpoint(
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
    hip, hip_ok = _midpoint(xy, ok, HIPS)
    hip, hip_ok = _fill_gaps(hip, hip_ok, max_gap=len(hip))
    centre = np.where(hip_ok[:, None], hip, centre_box)  # (T, 2)
    shoulder, sh_ok = _midpoint(xy, ok, SHOULDERS)
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


class People:
    """The pose model of a `Backbone`, ready to find and track people: the person stream's
    counterpart of the backbone (fingerprint, feature size, a stream per video)."""

    def __init__(self, backbone: Backbone, settings: PeopleSettings) -> None:
        if backbone.loaded.yolo.task != "pose":
            raise ActrecError(
                f"people.enabled needs pose weights (a keypoint head); '{backbone.weights_name}' "
                "has none: use features.weights=auto (the carried yolo11n-pose.pt) or a -pose.pt"
            )
        self.backbone, self.settings = backbone, settings
        self.yolo = backbone.loaded.yolo
        b = backbone.settings  # roi: the chosen layers' channels, once, unpooled by a grid
        self.roi_dim = backbone.feature_dim // (b.grid**2 * (b.appearance + b.motion))
        self.feature_dim = sum(PART_DIMS.get(p, self.roi_dim) for p in settings.parts)

    @property
    def fingerprint(self) -> str:
        """The backbone's weights and what the person vectors hold (not the detection size or
        thresholds, which are chosen per video at use time)."""
        keys = dict(version=PEOPLE_VERSION, parts=sorted(self.settings.parts))
        if "roi" in self.settings.parts:  # pooled from these layers
            keys["layers"] = self.backbone.settings.layers
        digest = hashlib.sha256(json.dumps(keys, sort_keys=True).encode()).hexdigest()[:8]
        b = self.backbone
        return f"{b.weights_name}-people-{b.weights_hash}-{digest}"

    @property
    def cache_key(self) -> str:
        """The fingerprint plus what changes which people are found and kept (detection size,
        confidence, tracker, min_track): a model does not depend on them, its cached tracks do."""
        s = self.settings
        keys = dict(imgsz=s.imgsz, conf=s.conf, tracker=s.tracker, min_track=s.min_track)
        digest = hashlib.sha256(json.dumps(keys, sort_keys=True).encode()).hexdigest()[:6]
        return f"{self.fingerprint}-d{digest}"

    def describe(self) -> dict:
        return {**self.backbone.describe(), "fingerprint": self.fingerprint,
                "feature_dim": self.feature_dim, "people": asdict(self.settings)}  # fmt: skip

    @property
    def decode_size(self) -> tuple[int, bool]:
        """Frames are decoded with their long side at `imgsz` (up or down), aspect kept."""
        return self.settings.imgsz, True

    def stream(self, fps: float) -> PersonStream:
        return PersonStream(self, fps)

    def detect(self, frames: np.ndarray) -> list:
        """(N, H, W, 3) RGB → ultralytics Results per frame (boxes, keypoints).

        A list source is one batch to ultralytics whatever its `batch` argument, so the frames
        go in groups of DETECT_BATCH: memory stays flat at large detection sizes.
        """
        b = self.backbone
        out = []
        for i in range(0, len(frames), DETECT_BATCH):
            out += self.yolo.predict(
                [f[..., ::-1] for f in frames[i : i + DETECT_BATCH]], imgsz=self.settings.imgsz,
                conf=self.settings.conf, classes=[0], device=b.device,
                half=b.dtype == torch.float16, verbose=False,
            )  # fmt: skip
        return out


def make_tracker(name: str, fps: float):
    """An ultralytics tracker from its YAML (bytetrack.yaml, botsort.yaml or a path)."""
    from ultralytics.trackers.track import TRACKER_MAP
    from ultralytics.utils import YAML, IterableSimpleNamespace
    from ultralytics.utils.checks import check_yaml

    try:
        cfg = IterableSimpleNamespace(**YAML.load(check_yaml(name)))
    except Exception:
        raise ActrecError(f"people.tracker: cannot read tracker config {name!r}") from None
    if cfg.tracker_type not in TRACKER_MAP:
        raise ActrecError(f"people.tracker: unknown tracker_type {cfg.tracker_type!r}")
    # track_buffer counts frames at 30 fps: keep a lost person for the same time at our rate
    cfg.track_buffer = max(1, round(cfg.track_buffer * fps / 30))
    if cfg.tracker_type == "botsort":
        cfg.with_reid = False  # no ReID model offline
    return TRACKER_MAP[cfg.tracker_type](args=cfg)


class PersonStream:
    """The frames of one video, chunk by chunk → its people's tracks (tracker state inside)."""

    def __init__(self, people: People, fps: float = 10.0) -> None:
        self.people, self.fps = people, fps
        self.scale = 1.0  # source pixels per detection-frame pixel
        self.tracker = make_tracker(people.settings.tracker, fps)
        self.tracks: dict[int, Track] = {}
        self.span = [np.inf, -np.inf]  # the first and last moment pushed

    def __call__(self, frames: np.ndarray, times: np.ndarray, scale: float = 1.0) -> list[int]:
        """Detect and track people in consecutive frames; `scale` maps frame pixels back to the
        source's. → the ids seen in the last frame."""
        ids: list[int] = []
        self.scale = scale
        if len(times):
            self.span = [min(self.span[0], float(times[0])), max(self.span[1], float(times[-1]))]
        found = self.people.detect(frames)
        rois: list = [None] * len(found)
        if "roi" in self.people.settings.parts:  # boxes are in `frames` pixels, as the maps
            xyxy = [r.boxes.xyxy.cpu().numpy() for r in found]
            rois = []
            for i in range(0, len(found), DETECT_BATCH):  # memory stays flat at large sizes
                rois += self.people.backbone.roi_features(frames[i : i + DETECT_BATCH],
                                                          xyxy[i : i + DETECT_BATCH])  # fmt: skip
        for res, roi, t in zip(found, rois, times, strict=True):
            boxes = res.boxes.cpu().numpy()
            out = self.tracker.update(boxes, res.orig_img)  # (M, 8): xyxy, id, score, cls, idx
            kp = res.keypoints.cpu().numpy() if res.keypoints is not None else None
            ids = []
            for row in out:
                tid, det = int(row[4]), int(row[7])
                tr = self.tracks.setdefault(tid, Track(tid))
                tr.times.append(float(t))
                tr.boxes.append(row[:4].astype(np.float32) * scale)
                tr.xy.append(kp.xy[det].astype(np.float32) * scale)
                tr.conf.append(kp.conf[det].astype(np.float32))
                if roi is not None:
                    tr.roi.append(roi[det])
                ids.append(tid)
        return ids

    push = __call__

    def _stitch_main_actor(self) -> None:
        """The heaviest track takes in the tracks that continue it after an id switch (a bent
        or half-hidden person is often lost for a moment and found again under a new id)."""
        if not self.tracks:
            return
        main = max(self.tracks.values(), key=Track.weight)
        joined = True
        while joined:
            joined = False
            for t in sorted(self.tracks.values(), key=Track.weight, reverse=True):
                if t is not main and main.joinable(t):
                    main.join(self.tracks.pop(t.id))
                    joined = True
                    break

    def result(self) -> tuple[np.ndarray, np.ndarray, list[dict]]:
        """→ the main actor's features (T, D) and times (T,), and every track lasting at least
        `min_track` seconds (2 frames or more; in a video shorter than that, most of it) as
        arrays with its `feats`, main actor first."""
        s = self.people.settings
        self._stitch_main_actor()
        least = min(s.min_track, 0.8 * (self.span[1] - self.span[0]))  # a 1 s clip has people too
        keep = [t for t in self.tracks.values()
                if len(t.times) >= 2 and t.times[-1] - t.times[0] >= least]  # fmt: skip
        if not keep:
            raise ActrecError(
                f"no person found (or none tracked for people.min_track seconds) at detection "
                f"size {s.imgsz}; if the people are small in the frame, a larger size finds "
                f"them (predict people_imgsz=960)"
            )
        tracks = []
        for t in sorted(keep, key=lambda t: -t.weight()):
            a = t.arrays(self.fps)
            feats = pose_features(a["xy"], a["conf"], a["boxes"], s.parts, a.get("roi"))
            height = np.median(a["boxes"][:, 3] - a["boxes"][:, 1]) / self.scale
            tracks.append(dict(id=t.id, **a, feats=feats, height_px=np.float32(height)))
        return tracks[0]["feats"], tracks[0]["times"], tracks


def load_tracks(path: Path) -> list[dict[str, np.ndarray]]:
    """Tracks saved by `cache.put(tracks=...)` → one dict of arrays per track."""
    with np.load(path) as z:
        ids = sorted({int(k.split("_")[0][1:]) for k in z.files})
        return [{"id": np.int64(i), **{k.split("_", 1)[1]: z[k] for k in z.files
                 if k.startswith(f"t{i}_")}} for i in ids]  # fmt: skip
