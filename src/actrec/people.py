"""The person stream: pose model → people tracked across frames → `pose.Track`s and their vectors.

Beside `backbone` in the flow (it runs the pose weights through ultralytics), before `features`.
Per sampled frame the pose model gives boxes and 17 COCO keypoints, batched over a chunk of
frames, in PyTorch or (`use_runtime`) in ultralytics' ONNX Runtime or OpenVINO backend;
ultralytics' own tracker (ByteTrack or BoT-SORT) links people from frame to frame. The
numbers made of a track (resampling, `pose_features`) live in `pose`, numpy only.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from actrec.backbone import Backbone, settings_digest
from actrec.config import FeatureSettings, PeopleSettings
from actrec.errors import ActrecError
from actrec.pose import PART_DIMS, Track, pose_features
from actrec.weights import EXPORTED, export_yolo, load_exported, runtime_settings

DETECT_BATCH = 4  # frames per pose-model call: at imgsz 960, 32 at once peaked at 2.3 GB, 8 at 1.4
PEOPLE_VERSION = 3  # bump when the person features change


class NobodyFound(ActrecError):
    """No person tracked long enough in a video: a failed clip for training, but for `predict`
    with a person model an answer (an empty scene), not an error."""


def pose_backbone(settings: FeatureSettings) -> Backbone:
    """The backbone the person stream runs on: `weights=auto` resolves to pose weights
    (`yolo11n-pose.pt`, local or downloaded, else the carried file) even where a detection
    `yolo11n.pt` can be had, which `auto` would pick for whole frames."""
    if settings.weights == "auto":
        settings = replace(settings, weights="pose")
    return Backbone(settings)


class People:
    """The pose model of a `Backbone`, ready to find and track people: the person stream's
    counterpart of the backbone (fingerprint, feature size, a stream per video)."""

    def __init__(self, backbone: Backbone, settings: PeopleSettings) -> None:
        if backbone.loaded.yolo.task != "pose":
            raise ActrecError(
                f"people.enabled needs pose weights (a keypoint head); '{backbone.weights_name}' "
                "has none: use features.weights=auto (yolo11n-pose.pt) or another -pose.pt"
            )
        self.backbone, self.settings = backbone, settings
        self.yolo, self.runtime = backbone.loaded.yolo, "torch"
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
        digest = settings_digest(keys)
        b = self.backbone
        return f"{b.weights_name}-people-{b.weights_hash}-{digest}"

    @property
    def cache_key(self) -> str:
        """The fingerprint plus what changes which people are found and kept (detection size,
        confidence, tracker, min_track): a model does not depend on them, its cached tracks do."""
        s = self.settings
        keys = dict(imgsz=s.imgsz, conf=s.conf, tracker=s.tracker, min_track=s.min_track)
        digest = settings_digest(keys, 6)
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

    def use_runtime(self, runtime: str, path: Path) -> None:
        """Detect people with the pose model exported at `path`, run by `runtime` (onnx |
        openvino); ultralytics' pre- and postprocessing and the tracker stay as they are."""
        if not path.exists():
            raise ActrecError(f"the {runtime} pose model is missing: {path}")
        self.yolo, self.runtime = load_exported(path, runtime), runtime

    def exported(self, runtime: str, folder: Path) -> Path:
        """The pose weights exported for `runtime` in `folder`, made on first use (extraction
        has no bundle to export beside: the file is named by the weights' hash)."""
        b = self.backbone
        path = Path(folder) / f"{b.weights_name}-{b.weights_hash}{EXPORTED[runtime]}"
        return path if path.exists() else export_yolo(b.loaded, runtime, path)

    def detect(self, frames: np.ndarray) -> list:
        """(N, H, W, 3) RGB → ultralytics Results per frame (boxes, keypoints).

        A list source is one batch to ultralytics whatever its `batch` argument, so the frames
        go in groups of DETECT_BATCH: memory stays flat at large detection sizes.
        """
        b = self.backbone
        torch_ = self.runtime == "torch"  # half only in torch; OpenVINO runs on the CPU
        device = b.device if torch_ or self.runtime == "onnx" else "cpu"
        out = []
        for i in range(0, len(frames), DETECT_BATCH):
            with runtime_settings(self.runtime):  # where ultralytics compiles an export
                out += self.yolo.predict(
                    [f[..., ::-1] for f in frames[i : i + DETECT_BATCH]],
                    imgsz=self.settings.imgsz, conf=self.settings.conf, classes=[0],
                    device=device, half=torch_ and b.dtype == torch.float16, verbose=False,
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

    def __init__(self, people: People, fps: float = 10.0, feed_fps: float | None = None) -> None:
        """`fps`: the model's rate, which tracks are resampled to; `feed_fps`: the rate frames
        are pushed at, when it differs (live pushes every camera frame it keeps up with)."""
        self.people, self.fps = people, fps
        self.scale = 1.0  # source pixels per detection-frame pixel
        self.tracker = make_tracker(people.settings.tracker, feed_fps or fps)
        self.lost_s = self.tracker.max_frames_lost / (feed_fps or fps)  # a lost person kept
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

    def feed_rate(self, rate: float) -> None:
        """Frames now arrive at `rate` a second: the tracker keeps a lost person for the same
        time (its buffer counts frames)."""
        self.tracker.max_frames_lost = max(1, round(self.lost_s * rate))

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
            raise NobodyFound(
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
