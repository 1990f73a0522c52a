"""Finding small people for less than the whole frame at 960 on every sampled frame.

On vtest.avi (768x576, pedestrians 50-150 px tall) and a 1920x1080 clip made here of six
wild_dev clips at 0.4x (people 30-80 px tall, data/bench/small_people_1080p.mp4), the pose model
in OpenVINO (`actrec export builtin` first) tracks people by each way, and this prints the
person-seconds tracked (people kept ≥ 1 s, as predict keeps them) relative to the whole frame at
960 and the tracking time (pose model and tracker; frames decoded beforehand):
- full@S: the whole frame at detection size S on every sampled frame (predict's way);
- every2@960: the whole frame at 960 on every other sampled frame; the tracks are interpolated
  between (as `pose.Track.arrays` fills gaps of up to 3 steps);
- tiles@640: the frame at its own resolution cut into overlapping 640 px tiles, each through the
  pose model at 640, the people merged by NMS;
- auto: 960 for the first 2 s; then the smallest size that puts the smallest person found at
  ≥ 64 px (of 320, 480, 640, 960, 1280).

    python bench/small_people.py
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("YOLO_OFFLINE", "True")
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
FPS, TILE, OVERLAP, SIZES = 10.0, 640, 96, (320, 480, 640, 960, 1280)
SIX = ["walking/sudchaudhary_videoactivitydescription__walking.avi",
       "handwaving/sudchaudhary_videoactivitydescription__waving.avi",
       "running/sudchaudhary_videoactivitydescription__running.avi",
       "boxing/sudchaudhary_videoactivitydescription__boxing.avi",
       "handclapping/sudchaudhary_videoactivitydescription__claping.avi",
       "walking/AssemblyAI-Community_mediapipe-python__walking.mp4"]  # fmt: skip


def small_clip() -> Path:
    """1920x1080, 30 fps, 7 s: six clips at 0.4x scattered on a grey field."""
    path = ROOT / "data" / "bench" / "small_people_1080p.mp4"
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    caps = [cv2.VideoCapture(str(SHARED / "wild_dev" / c)) for c in SIX]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (1920, 1080))
    spots = [(60, 80), (800, 40), (1500, 200), (200, 650), (900, 560), (1400, 760)]
    for _ in range(210):
        canvas = np.full((1080, 1920, 3), 110, np.uint8)
        for cap, (x, y) in zip(caps, spots, strict=True):
            ok, f = cap.read()
            if not ok:
                cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                ok, f = cap.read()
            small = cv2.resize(f, (int(f.shape[1] * 0.4), int(f.shape[0] * 0.4)),
                               interpolation=cv2.INTER_AREA)  # fmt: skip
            canvas[y : y + small.shape[0], x : x + small.shape[1]] = small
        out.write(canvas)
    out.release()
    return path


def sampled(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Every sampled frame at its own size (RGB) and its time."""
    cap = cv2.VideoCapture(str(path))
    fps, frames, times, i = cap.get(cv2.CAP_PROP_FPS), [], [], 0
    step = fps / FPS
    while True:
        ok, f = cap.read()
        if not ok:
            break
        if i >= len(times) * step - 1e-6:
            frames.append(f[..., ::-1].copy())
            times.append(i / fps)
        i += 1
    cap.release()
    return np.stack(frames), np.array(times)


def people_at(size: int):
    from actrec import Model

    return Model("builtin", "cpu", "openvino", size, echo=lambda *_: None).loaded.source


def resized(frames: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    from actrec.video import fit_size, resize

    wh = fit_size((frames.shape[2], frames.shape[1]), size)
    return np.stack([resize(f, wh) for f in frames]), frames.shape[2] / wh[0]


def track(people, frames: np.ndarray, times: np.ndarray, scale: float, detect=None) -> list:
    stream = people.stream(FPS)
    if detect is not None:
        people.detect = detect
    for i in range(0, len(frames), 16):
        stream.push(frames[i : i + 16], times[i : i + 16], scale)
    try:
        return stream.result()[2]
    except Exception:  # nobody found
        return []


def tiled(people):
    """The pose model on overlapping tiles of each frame, merged by NMS: a `People.detect`."""
    import torch
    from torchvision.ops import nms
    from ultralytics.engine.results import Results

    plain = people.detect

    def detect(frames: np.ndarray) -> list:
        out = []
        for f in frames:
            h, w = f.shape[:2]
            xs = list(range(0, max(w - TILE, 0) + 1, TILE - OVERLAP)) or [0]
            ys = list(range(0, max(h - TILE, 0) + 1, TILE - OVERLAP)) or [0]
            xs += [w - TILE] if xs[-1] + TILE < w else []
            ys += [h - TILE] if ys[-1] + TILE < h else []
            spots = [(x, y) for y in ys for x in xs]
            found = plain(np.stack([f[y : y + TILE, x : x + TILE] for x, y in spots]))
            boxes, kps = [], []
            for r, (x, y) in zip(found, spots, strict=True):
                b, k = r.boxes.data.clone(), r.keypoints.data.clone()
                b[:, [0, 2]] += x
                b[:, [1, 3]] += y
                k[..., 0] += x
                k[..., 1] += y
                boxes.append(b)
                kps.append(k)
            b, k = torch.cat(boxes), torch.cat(kps)
            keep = nms(b[:, :4], b[:, 4], 0.5)
            out.append(Results(f[..., ::-1], "", {0: "person"}, boxes=b[keep], keypoints=k[keep]))
        return out

    return detect


def seconds(tracks: list) -> float:
    return sum(len(t["times"]) for t in tracks) / FPS


def smallest_height(tracks: list) -> float:
    return min((float(t["height_px"]) for t in tracks), default=0.0)


def run(path: Path) -> dict:
    frames, times = sampled(path)
    rows = {}
    for name in ("full@960", "full@640", "full@1280", "every2@960", "tiles@640", "auto"):
        kind, _, size = name.partition("@")
        size = int(size) if size else 960
        if kind == "tiles":
            people = people_at(TILE)
            src, scale = frames, 1.0
            detect = tiled(people)
        else:
            people = people_at(size)
            src, scale = resized(frames, size)
            detect = None
        people.detect(src[:2]) if detect is None else detect(src[:1])  # compiled beforehand
        t0 = time.perf_counter()
        if kind == "every2":
            tracks = track(people, src[::2], times[::2], scale)
        elif kind == "auto":
            first = times < times[0] + 2.0
            probe = track(people, src[first], times[first], scale)
            h = smallest_height(probe) or 1.0  # source pixels
            long_side = max(frames.shape[1:3])
            size = next((s for s in SIZES if h * s / long_side >= 64), SIZES[-1])
            people = people_at(size)
            src, scale = resized(frames, size)
            tracks = track(people, src, times, scale)
            name = f"auto (→{size})"
        else:
            tracks = track(people, src, times, scale, detect)
        rows[name] = dict(seconds=seconds(tracks), time_s=time.perf_counter() - t0,
                          people=len(tracks))  # fmt: skip
    return rows


def main() -> None:
    clips = {"vtest.avi": SHARED / "formats" / "vtest.avi", "made 1080p": small_clip()}
    print(f"{'clip':12s} {'way':16s} {'people':>6s} {'person-s':>9s} {'vs 960':>7s} {'time s':>7s} "
          f"{'vs 960':>7s}")  # fmt: skip
    for label, path in clips.items():
        rows = run(path)
        ref = rows["full@960"]
        for name, r in rows.items():
            print(f"{label:12s} {name:16s} {r['people']:6d} {r['seconds']:9.1f} "
                  f"{r['seconds'] / max(ref['seconds'], 1e-9):7.3f} {r['time_s']:7.1f} "
                  f"{r['time_s'] / ref['time_s']:7.2f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
