"""The person stream in each runtime against PyTorch: same people, same labels, keypoints close.

On vtest.avi at people_imgsz=960 and three wild_dev clips at 320, every runtime given tracks every
person (tracks cached in data/bench/tracks/, one file per clip, size and runtime), the built-in
model labels them as `predict` does, and this prints per runtime and clip:
- tracking time (decoding, pose model, tracker) and its ratio to PyTorch's;
- the share of PyTorch's person-seconds matched by a track of the runtime (box IoU ≥ 0.5 at the
  same moment; tracks paired greedily by their mean IoU);
- the share of PyTorch's windows (of matched people) whose nearest window in the runtime (its start
  within 0.25 s) has the same label;
- the distance between matched keypoints both runtimes see (conf ≥ 0.5), median and 95th
  percentile, in source pixels;
- vtest's walking share of person-seconds (people tracked ≥ 2 s, as bench/person_seconds.py).

    python bench/runtime_parity.py [--runtimes torch onnx openvino] [--fresh]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from new_actions import DATA, TRACKS, label_tracks  # bench/, beside this script
from person_seconds import label_seconds

CLIPS = [("formats/vtest.avi", 960),
         ("wild_dev/falling/RajuKonakalla_Fall_Detection_CV__Raju.mp4", 320),
         ("wild_dev/squat/ikramaliokz_SquatCounting-YoloNasPose__squat.mp4", 320),
         ("wild_dev/sitting_down/Kalininator_FallDetection__sit.mp4", 320)]  # fmt: skip


def tracks_in(path: Path, imgsz: int, runtime: str, fresh: bool) -> tuple[list[dict], float]:
    """Every person tracked in `path` by the pose model in `runtime` → tracks, seconds taken."""
    from actrec import Model
    from actrec.features import video_features

    cached = TRACKS / f"{path.stem}-{imgsz}-{runtime}.npz"
    if cached.is_file() and not fresh:
        with np.load(cached) as z:
            ids = sorted({int(k.split("_")[0][1:]) for k in z.files if k[0] == "t"})
            tracks = [{k.split("_", 1)[1]: z[k] for k in z.files if k.startswith(f"t{i:03d}_")}
                      for i in ids]  # fmt: skip
            return tracks, float(z["seconds"])
    loaded = Model("builtin", "cpu", runtime, imgsz, echo=lambda *_: None).loaded
    people, fps = loaded.source, loaded.bundle["sample"]["fps"]
    people.detect(np.zeros((1, imgsz, imgsz, 3), np.uint8))  # compiled before the clock starts
    t0 = time.perf_counter()
    v = video_features(str(path), people, fps, progress=False, nobody_ok=True)
    seconds = time.perf_counter() - t0
    keep = ("times", "boxes", "xy", "conf")
    tracks = [{**{k: t[k] for k in keep}, "id": np.int64(t["id"])} for t in v.tracks]
    TRACKS.mkdir(parents=True, exist_ok=True)
    arrays = {f"t{n:03d}_{k}": v for n, t in enumerate(tracks) for k, v in t.items()}
    np.savez(cached, seconds=seconds, **arrays)
    return tracks, seconds


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 4), (N, 4) xyxy → (N,) IoU row by row."""
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = w * h
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)


def common(a: dict, b: dict) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the moments two tracks share (times on the same 1/fps grid)."""
    ta, tb = np.round(a["times"] * 100).astype(int), np.round(b["times"] * 100).astype(int)
    _, ia, ib = np.intersect1d(ta, tb, return_indices=True)
    return ia, ib


def pairs(ref: list[dict], other: list[dict]) -> list[tuple[int, int, np.ndarray]]:
    """Greedy pairing by mean IoU over shared moments → (ref index, other index, matched mask
    over the ref track's moments)."""
    scored = []
    for i, a in enumerate(ref):
        for j, b in enumerate(other):
            ia, ib = common(a, b)
            if len(ia):
                ov = iou(a["boxes"][ia], b["boxes"][ib])
                scored.append((float((ov >= 0.5).sum()), i, j, ia[ov >= 0.5]))
    out, used_i, used_j = [], set(), set()
    for n, i, j, idx in sorted(scored, key=lambda s: -s[0]):
        if n > 0 and i not in used_i and j not in used_j:
            mask = np.zeros(len(ref[i]["times"]), bool)
            mask[idx] = True
            out.append((i, j, mask))
            used_i.add(i)
            used_j.add(j)
    return out


def compare(ref: list[dict], other: list[dict], labels_ref, labels_other) -> dict:
    matched = pairs(ref, other)
    total = sum(len(t["times"]) for t in ref)
    same_windows, dist = [], []
    for i, j, _ in matched:
        a, b = ref[i], other[j]
        ia, ib = common(a, b)
        both = (a["conf"][ia] >= 0.5) & (b["conf"][ib] >= 0.5)  # (K, 17)
        dist.append(np.linalg.norm(a["xy"][ia] - b["xy"][ib], axis=-1)[both])
        # a track found a frame earlier shifts its windows: compare with the nearest one (within
        # half the model's 0.5 s stride); a window PyTorch has and the runtime has not differs
        starts = np.array([r["start_s"] for r in labels_other[j]["timeline"]])
        for r in labels_ref[i]["timeline"]:
            k = int(np.abs(starts - r["start_s"]).argmin())
            near = abs(starts[k] - r["start_s"]) <= 0.25
            same_windows.append(near and labels_other[j]["timeline"][k]["label"] == r["label"])
    d = np.concatenate(dist) if dist else np.zeros(0)
    return dict(seconds_matched=sum(m.sum() for *_, m in matched) / max(total, 1),
                windows_same=float(np.mean(same_windows)) if same_windows else float("nan"),
                kp_median=float(np.median(d)) if len(d) else float("nan"),
                kp_p95=float(np.percentile(d, 95)) if len(d) else float("nan"))  # fmt: skip


def walking_share(labelled: list[dict]) -> float:
    seconds, _ = label_seconds(labelled)
    return seconds["walking"] / max(sum(seconds.values()), 1e-9)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runtimes", nargs="+", default=["torch", "onnx", "openvino"])
    p.add_argument("--fresh", action="store_true", help="track again instead of the cached tracks")
    a = p.parse_args()
    from actrec.bundle import load_bundle

    bundle = load_bundle("builtin")
    print(
        f"{'clip':34s} {'runtime':9s} {'time s':>7s} {'x torch':>7s} {'people':>6s} "
        f"{'p-s matched':>11s} {'windows same':>12s} {'kp med/p95 px':>14s} {'walking':>7s}"
    )
    for rel, imgsz in CLIPS:
        path = DATA / rel
        if not path.is_file():
            continue
        ref, t_ref = tracks_in(path, imgsz, "torch", a.fresh and "torch" in a.runtimes)
        lab_ref = label_tracks(bundle, ref)
        for rt in a.runtimes:
            tracks, t = (ref, t_ref) if rt == "torch" else tracks_in(path, imgsz, rt, a.fresh)
            lab = label_tracks(bundle, tracks)
            c = compare(ref, tracks, lab_ref, lab)
            walk = f"{walking_share(lab):.3f}" if "vtest" in rel else ""
            print(
                f"{path.stem[:34]:34s} {rt:9s} {t:7.1f} {t_ref / t:7.2f} {len(tracks):6d} "
                f"{c['seconds_matched']:11.3f} {c['windows_same']:12.3f} "
                f"{c['kp_median']:6.2f}/{c['kp_p95']:6.2f} {walk:>7s}",
                flush=True,
            )


if __name__ == "__main__":
    main()
