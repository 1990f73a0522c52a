"""Speed of the person stream per runtime (`make bench`, after people_speed.py): I, J.

I. The pose model alone on vtest.avi's frames at detection sizes 320, 640, 960 (frames/s,
   ultralytics' pre- and postprocessing included), then `actrec predict vtest.avi
   people_imgsz=960 runtime=...` with the built-in model as a user runs it (a fresh process:
   start-up, decoding, tracking, labelling), wall time and peak RSS; every runtime in one run,
   so their ratios hold on a noisy machine.
J. `actrec live` with the built-in model on a 640x480 30 fps file with three people in view
   (three wild_dev clips side by side, made in data/bench/), realtime=true: processed FPS,
   label latency p50/p95, people labelled per frame.

    python bench/runtime_speed.py [--runtimes torch onnx openvino] [--no-vtest]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("YOLO_OFFLINE", "True")
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
VTEST = SHARED / "formats" / "vtest.avi"
SIZES = (320, 640, 960)
THREE = ["walking/sudchaudhary_videoactivitydescription__walking.avi",
         "handwaving/sudchaudhary_videoactivitydescription__waving.avi",
         "running/sudchaudhary_videoactivitydescription__running.avi"]  # fmt: skip


def exported_builtin(runtimes: list[str]) -> None:
    """The built-in model's export for `runtimes`, made (or remade) when missing or stale: a
    benchmark makes what it measures."""
    from actrec import Model
    from actrec.runtime import exported_runtimes

    if set(runtimes) - {"torch"} - set(exported_runtimes("builtin")):
        Model("builtin", echo=lambda *_: None).export("all")


def frames_at(size: int, n: int = 40) -> np.ndarray:
    """(n, H, W, 3) RGB frames of vtest, long side `size`, as predict decodes them."""
    from actrec.video import fit_size, resize

    cap, out = cv2.VideoCapture(str(VTEST)), []
    while len(out) < n:
        ok, f = cap.read()
        if not ok:
            break
        out.append(resize(f[..., ::-1], fit_size((f.shape[1], f.shape[0]), size)))
    cap.release()
    return np.stack(out)


def bench_i(runtimes: list[str]) -> dict:
    from actrec import Model

    rates = {}
    for rt in runtimes:
        for size in SIZES:
            model = Model("builtin", "cpu", rt, size, echo=lambda *_: None)
            people = model.loaded.source  # the pose model alone: the stage this row measures
            frames = frames_at(size)
            people.detect(frames[:4])  # warm-up: OpenVINO compiles for the first shape
            t = time.perf_counter()
            people.detect(frames)
            rates[f"{rt}@{size}"] = len(frames) / (time.perf_counter() - t)
    return rates


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def high_water_mib(pid: int) -> float:
    """A process's peak resident memory so far (VmHWM), MiB; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def predict_vtest(runtime: str) -> dict:
    """`actrec predict` in a fresh process, as a user runs it: wall time, peak RSS (the
    process's and its decode worker's, summed), walking share."""
    out = ROOT / "data" / "bench" / f"vtest_{runtime}.json"
    cmd = [sys.executable, "-m", "actrec", "predict", str(VTEST), "people_imgsz=960",
           f"runtime={runtime}", f"json={out}", "progress=false"]  # fmt: skip
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak: dict[int, float] = {}
    while proc.poll() is None:  # each process's own high-water mark, summed at the end
        for pid in [proc.pid, *children(proc.pid)]:
            peak[pid] = max(peak.get(pid, 0.0), high_water_mib(pid))
        time.sleep(0.5)
    wall = time.perf_counter() - t
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode})")
    rss = sum(peak.values())
    sys.path.insert(0, str(ROOT / "bench"))
    from person_seconds import label_seconds

    seconds, _ = label_seconds(json.loads(out.read_text())["people"])
    return dict(wall_s=wall, peak_rss_mib=rss, walking=seconds["walking"] / sum(seconds.values()))


def three_people_clip() -> Path:
    """640x480 at 30 fps: three wild_dev clips at half size, two above and one below."""
    path = ROOT / "data" / "bench" / "three_people_640x480.mp4"
    if path.is_file():
        return path
    caps = [cv2.VideoCapture(str(SHARED / "wild_dev" / c)) for c in THREE]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (640, 480))
    spots = [(0, 0), (320, 0), (160, 240)]
    while True:
        canvas = np.full((480, 640, 3), 60, np.uint8)
        for cap, (x, y) in zip(caps, spots, strict=True):
            ok, f = cap.read()
            if not ok:
                break
            canvas[y : y + 240, x : x + 320] = cv2.resize(f, (320, 240))
        else:
            out.write(canvas)
            continue
        break
    out.release()
    return path


def bench_j(runtimes: list[str]) -> dict:
    import tempfile

    from actrec import Model

    clip, rows = str(three_people_clip()), {}
    for rt in runtimes:
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "l.jsonl"
            watch = Model("builtin", runtime=rt, echo=lambda *_: None).live(
                clip, realtime=True, headless=True, log=str(log))  # fmt: skip
            r = watch.run()
            per_t: dict[float, int] = {}
            for line in log.read_text().splitlines():
                t = json.loads(line)["t"]
                per_t[t] = per_t.get(t, 0) + 1
        rows[rt] = dict(fps=r["fps_median"], p50=r["latency_p50_ms"], p95=r["latency_p95_ms"],
                        people_max=max(per_t.values(), default=0))  # fmt: skip
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runtimes", nargs="+", default=["torch", "onnx", "openvino"])
    p.add_argument("--no-vtest", action="store_true", help="skip the vtest predict rows (~8 min)")
    a = p.parse_args()
    if not VTEST.is_file():
        raise SystemExit(f"no {VTEST}: the runtime bench needs the real clips")
    exported_builtin(a.runtimes)
    (ROOT / "data" / "bench").mkdir(parents=True, exist_ok=True)
    i = bench_i(a.runtimes)
    v = {} if a.no_vtest else {rt: predict_vtest(rt) for rt in a.runtimes}
    j = bench_j(a.runtimes)
    print(f"\n{'bench (person stream per runtime)':<50}" + "".join(f"{r:>12}" for r in a.runtimes))
    for size in SIZES:
        print(f"{f'I pose model, vtest frames at {size} (f/s)':<50}"
              + "".join(f"{i[f'{r}@{size}']:>12.1f}" for r in a.runtimes))  # fmt: skip
    if v:
        print(f"{'I predict vtest.avi people_imgsz=960: wall s':<50}"
              + "".join(f"{v[r]['wall_s']:>12.1f}" for r in a.runtimes))  # fmt: skip
        print(f"{'  peak RSS MiB':<50}" + "".join(f"{v[r]['peak_rss_mib']:>12.0f}"
                                               for r in a.runtimes))  # fmt: skip
        print(f"{'  walking share of person-seconds':<50}"
              + "".join(f"{v[r]['walking']:>12.3f}" for r in a.runtimes))  # fmt: skip
    print(f"{'J live, 3 people, 640x480 30 fps, realtime: FPS':<50}"
          + "".join(f"{j[r]['fps']:>12.1f}" for r in a.runtimes))  # fmt: skip
    print(f"{'  latency p50 / p95 ms':<50}"
          + "".join(f"{j[r]['p50']:>6.0f} /{j[r]['p95']:>4.0f}" for r in a.runtimes))  # fmt: skip
    print(f"{'  most people labelled in one frame':<50}"
          + "".join(f"{j[r]['people_max']:>12d}" for r in a.runtimes))  # fmt: skip
    (ROOT / "data" / "bench" / "runtime_speed.json").write_text(
        json.dumps(dict(I=i, vtest=v, J=j), indent=1)
    )


if __name__ == "__main__":
    main()
