"""Speed benchmark A–F (`make bench`): actrec against the backbone's own limit and what users write.

A. backbone only: frames/s on frames already decoded and resized in memory, best batch size.
B. `extract` end to end (decode in a worker, sample, resize, backbone, cache write): frames/s.
C. what a user writes instead: OpenCV reads every frame, `YOLO(...).embed(frame)` per sampled frame.
D. one training epoch from the cache vs from raw video (decode + backbone every epoch).
E. `actrec predict` on vtest.avi (79.5 s): wall time, real-time factor, peak RSS.
F. `actrec live` on a file at realtime=false: processed FPS, per-frame latency p50/p95.

Videos: ../shared/data/formats (vtest.avi apart, it is E's) and ../shared/data/weizmann4 when
present, plus 16 synthetic clips. Prints one table and writes data/bench/speed.json.

    python bench/speed.py [--sizes 224 320] [--c-frames 400]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from lightning.pytorch.callbacks import Callback

os.environ.setdefault("YOLO_OFFLINE", "True")
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DATA = Path("data/bench")
FPS = 10.0  # sampling rate, as in the default config


def videos() -> list[str]:
    from actrec.synthetic.synth import CLASSES, generate

    synth = generate(DATA / "synth", CLASSES, clips_per_class=2, progress=False)
    paths = sorted(str(p) for p in synth.rglob("*.mp4"))
    paths += sorted(str(p) for p in (SHARED / "formats").glob("*") if p.name != "vtest.avi")
    paths += sorted(str(p) for p in (SHARED / "weizmann4").rglob("*.avi"))
    return paths


def decoded(paths: list[str], imgsz: int, limit: int = 256) -> np.ndarray:
    """The first `limit` sampled frames of `paths`, resized: (N, S, S, 3) uint8."""
    from actrec.video import open_video

    out: list[np.ndarray] = []
    for p in paths:
        with open_video(p) as src:
            for c in src.chunks(FPS, (imgsz, imgsz), 64):
                out.extend(c.frames)
        if len(out) >= limit:
            break
    return np.stack(out[:limit])


def bench_a(paths: list[str], imgsz: int, runtime: str = "torch") -> dict:
    from actrec.backbone import Backbone
    from actrec.config import FeatureSettings

    frames = decoded(paths, imgsz)
    rates = {}
    for batch in (1, 8, 16, 32):
        bb = Backbone(FeatureSettings(imgsz=imgsz, batch=batch))
        if runtime == "onnx":  # the same preprocessing, the network in ONNX Runtime
            from actrec.export import export_backbone
            from actrec.runtime import graph_embed

            graph = DATA / f"backbone_{imgsz}.onnx"
            if batch == 1:
                export_backbone(bb, graph)
            bb.use_runtime(graph_embed(graph))
        bb.features(frames[: 2 * batch])  # warm-up
        t = time.perf_counter()
        bb.features(frames)
        rates[batch] = len(frames) / (time.perf_counter() - t)
    best = max(rates, key=rates.get)
    return dict(fps=rates[best], batch=best, by_batch=rates)


def bench_b(paths: list[str], imgsz: int, workers: int = 1) -> dict:
    from actrec.backbone import Backbone
    from actrec.cache import FeatureCache
    from actrec.config import FeatureSettings
    from actrec.extract import extract

    bb = Backbone(FeatureSettings(imgsz=imgsz))
    with tempfile.TemporaryDirectory() as tmp:
        cache = FeatureCache(tmp, bb.cache_key, FPS)
        t = time.perf_counter()
        s = extract(paths, bb, cache, FPS, workers=workers, progress=False)
        wall = time.perf_counter() - t
        frames = sum(len(cache.load(p)) for p in paths if cache.entry(p).status == "ok")
    return dict(fps=frames / wall, frames=frames, wall_s=wall, failed=len(s.failed))


def bench_c(paths: list[str], imgsz: int, limit: int) -> dict:
    """Per-frame `embed` as ultralytics documents it, on OpenCV frames sampled at 10 fps."""
    import cv2
    import torch
    from ultralytics import YOLO

    from actrec.video import sampled_indices

    threads, cv_threads = torch.get_num_threads(), cv2.getNumThreads()
    torch.manual_seed(0)
    model = YOLO("yolo11n.yaml", task="detect")  # what yolo11n.pt gives, untrained (offline)
    done, t = 0, time.perf_counter()
    for p in paths:
        cap = cv2.VideoCapture(p)
        n, fps = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), cap.get(cv2.CAP_PROP_FPS) or 25.0
        keep = set(sampled_indices(n, fps, FPS).tolist()) if n > 0 else None
        i = 0
        while done < limit:
            ok, frame = cap.read()
            if not ok:
                break
            if keep is None or i in keep:
                model.embed(frame, imgsz=imgsz, verbose=False)
                done += 1
            i += 1
        cap.release()
        if done >= limit:
            break
    rate = done / (time.perf_counter() - t)
    # ultralytics' predictor sets torch and OpenCV to 1 thread on CPU: undo it for A, B, D, F
    torch.set_num_threads(threads)
    cv2.setNumThreads(cv_threads)
    return dict(fps=rate, frames=done, torch_threads_during=1)


def bench_d(imgsz: int) -> dict:
    """Seconds per epoch, the same 48 clips and head: cached features vs decode + backbone."""
    import lightning as L

    from actrec.backbone import Backbone
    from actrec.cache import FeatureCache
    from actrec.config import FeatureSettings
    from actrec.data import SequenceDataModule, Split
    from actrec.extract import extract, quiet_lightning
    from actrec.features import video_features
    from actrec.model import ActionClassifier

    class RawSplit(Split):  # what training from video would do: decode + backbone every time
        def load(self, i: int) -> np.ndarray:
            return video_features(self.paths[i], bb, FPS, progress=False).feats

    clips = sorted((SHARED / "weizmann4").rglob("*.avi")) or sorted((DATA / "synth").rglob("*.mp4"))
    paths = [str(p) for p in clips]
    names = sorted({p.parent.name for p in clips})
    labels = [names.index(p.parent.name) for p in clips]
    quiet_lightning()  # no banners between the results
    warnings.filterwarnings("ignore", module="lightning")
    bb = Backbone(FeatureSettings(imgsz=imgsz))
    cache = FeatureCache(DATA / "cache", bb.cache_key, FPS)
    extract(paths, bb, cache, FPS, progress=False)
    splits = dict(cached=Split(cache, paths, labels), raw=RawSplit(None, paths, labels))
    out = {}
    for kind, epochs in (("cached", 6), ("raw", 1)):
        dm = SequenceDataModule({"train": splits[kind]}, window=32, batch=16)
        model = ActionClassifier(bb.feature_dim, names)
        times: list[float] = []
        trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", logger=False, limit_val_batches=0,
                            enable_checkpointing=False, enable_progress_bar=False,
                            enable_model_summary=False, callbacks=[EpochTimer(times)])  # fmt: skip
        trainer.fit(model, datamodule=dm)
        out[kind] = float(np.median(times[1:] if len(times) > 1 else times))
    out["clips"] = len(paths)
    return out


class EpochTimer(Callback):
    """Records each training epoch's wall time."""

    def __init__(self, times: list[float]) -> None:
        self.times, self.t = times, 0.0

    def on_train_epoch_start(self, *_) -> None:
        self.t = time.perf_counter()

    def on_train_epoch_end(self, *_) -> None:
        self.times.append(time.perf_counter() - self.t)


def bench_e(imgsz: int, runtime: str = "torch") -> dict:
    from live_speed import fresh_bundle

    video = SHARED / "formats" / "vtest.avi"
    if not video.exists():
        return {}
    model = fresh_bundle(imgsz)
    if runtime == "onnx":
        from actrec.export import export

        export(model, echo=lambda *_: None)
    # the child reports its own peak (VmHWM): ru_maxrss would carry this process's over fork
    code = ("import sys\nfrom actrec.cli import main\nrc = main()\n"
            "hwm = open('/proc/self/status').read().split('VmHWM:')[1].split()[0]\n"
            "print(hwm, file=sys.stderr)\nsys.exit(rc)")  # fmt: skip
    cmd = [sys.executable, "-c", code, "predict", str(model), str(video), f"runtime={runtime}"]
    t = time.perf_counter()
    run = subprocess.run(cmd, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t
    peak = int(run.stderr.split()[-1]) / 2**20  # KiB → GiB
    return dict(wall_s=wall, rtf=79.5 / wall, peak_gib=peak)


def bench_f(imgsz: int, seconds: float, runtime: str = "torch") -> dict:
    from live_speed import run

    r = run(seconds, imgsz, realtime=False, model=None, mode="stream", runtime=runtime)
    return dict(fps=r["all"]["fps"], p50=r["all"]["p50"], p95=r["all"]["p95"])


def onnx_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        print("onnxruntime not installed: the ONNX rows are left out (pip install -e '.[onnx]')")
        return False
    return True


def _median(runs: list[dict]) -> dict:
    """The run with the median frames/s, with every round's rate kept beside it."""
    mid = sorted(runs, key=lambda r: r["fps"])[len(runs) // 2]
    return {**mid, "rounds": [round(r["fps"], 1) for r in runs]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[224, 320])
    p.add_argument("--c-frames", type=int, default=400, help="frames timed for C")
    p.add_argument("--live-seconds", type=float, default=20)
    p.add_argument("--rounds", type=int, default=3, help="A, B, C repeated; medians reported")
    a = p.parse_args()
    import torch

    DATA.mkdir(parents=True, exist_ok=True)
    paths = videos()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()  # fmt: skip
    head = (f"{time.strftime('%Y-%m-%d')}, commit {commit}, {platform.machine()} CPU, "
            f"{os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} "
            f"threads), {len(paths)} videos")  # fmt: skip
    print(head)
    res: dict = dict(header=head, sizes={})
    # A, B and C take turns, round after round, and each reports its median: this shared VM's
    # speed drifts by +-20 % within minutes, and a ratio of one-off timings would inherit it
    for s in a.sizes:
        runs: dict[str, list[dict]] = {"A": [], "B": [], "C": []}
        for k in range(a.rounds):
            runs["A"].append(bench_a(paths, s))
            runs["B"].append(bench_b(paths, s))
            runs["C"].append(bench_c(paths, s, a.c_frames))
            print(f"imgsz {s}, round {k + 1}: A {runs['A'][-1]['fps']:.1f} f/s (batch "
                  f"{runs['A'][-1]['batch']}), B {runs['B'][-1]['fps']:.1f} f/s, "
                  f"C {runs['C'][-1]['fps']:.1f} f/s", flush=True)  # fmt: skip
        res["sizes"][s] = {key: _median(rs) for key, rs in runs.items()}
    s0 = a.sizes[0]
    res["D"], res["E"], res["F"] = bench_d(s0), bench_e(s0), bench_f(s0, a.live_seconds)
    if onnx_available():  # A, E and F again with ONNX Runtime behind the same preprocessing
        rounds = [bench_a(paths, s0, "onnx") for _ in range(a.rounds)]
        res["onnx"] = dict(A=_median(rounds), E=bench_e(s0, "onnx"),
                           F=bench_f(s0, a.live_seconds, "onnx"))  # fmt: skip
    print_table(res, s0)
    (DATA / "speed.json").write_text(json.dumps(res, indent=1))


def print_table(res: dict, s0: int) -> None:
    print(f"\n{'bench':<44}{'value':>14}{'target':>12}")
    for s, r in res["sizes"].items():
        a, b, c = r["A"]["fps"], r["B"]["fps"], r["C"]["fps"]
        print(f"{f'A backbone only, imgsz {s}':<44}{a:>10.1f} f/s")
        print(f"{f'B extract end to end, imgsz {s}':<44}{b:>10.1f} f/s")
        print(f"{f'C per-frame YOLO.embed, imgsz {s}':<44}{c:>10.1f} f/s")
        print(f"{f'  B/A, imgsz {s}':<44}{b / a:>14.2f}{'>= 0.85':>12}")
        print(f"{f'  B/C, imgsz {s}':<44}{b / c:>14.2f}{'>= 3':>12}")
    d, e, f = res["D"], res["E"], res["F"]
    clips = d["clips"]
    print(f"{f'D epoch from cache ({clips} clips)':<44}{d['cached']:>12.2f} s")
    print(f"{'D epoch from raw video (decode + backbone)':<44}{d['raw']:>12.2f} s")
    print(f"{'  D raw/cached':<44}{d['raw'] / d['cached']:>13.0f}x{'>= 50x':>12}")
    if e:
        print(f"{f'E predict vtest.avi (79.5 s), imgsz {s0}':<44}{e['wall_s']:>12.1f} s")
        print(f"{'  E real-time factor':<44}{e['rtf']:>13.1f}x{'>= 10x':>12}")
        print(f"{'  E peak RSS':<44}{e['peak_gib']:>10.2f} GiB{'< 1.5 GiB':>12}")
    print(f"{f'F live realtime=false, imgsz {s0}':<44}{f['fps']:>10.1f} FPS{'>= 25':>12}")
    print(f"{'  F latency p50 / p95':<44}{f['p50']:>6.0f} / {f['p95']:.0f} ms")
    if "onnx" in res:
        print_runtimes(res, s0)


def print_runtimes(res: dict, s0: int) -> None:
    """A, E and F side by side: torch against ONNX Runtime (CPU provider, default threads)."""
    import torch

    o, t = res["onnx"], res["sizes"][s0]
    n = torch.get_num_threads()
    print(f"\nruntimes, imgsz {s0} (torch {n} intra-op threads; ONNX Runtime CPU execution "
          f"provider, {n} intra-op threads, no spinning)")  # fmt: skip
    print(f"{'':<34}{'torch':>12}{'onnx':>12}")
    print(f"{'A backbone only, f/s':<34}{t['A']['fps']:>12.1f}{o['A']['fps']:>12.1f}")
    if res["E"] and o["E"]:
        e, oe = res["E"], o["E"]
        print(f"{'E predict vtest.avi, s':<34}{e['wall_s']:>12.2f}{oe['wall_s']:>12.2f}")
        print(f"{'  E real-time factor':<34}{e['rtf']:>11.1f}x{oe['rtf']:>11.1f}x")
        print(f"{'  E peak RSS, GiB':<34}{e['peak_gib']:>12.2f}{oe['peak_gib']:>12.2f}")
    f, of = res["F"], o["F"]
    print(f"{'F live, FPS':<34}{f['fps']:>12.1f}{of['fps']:>12.1f}")
    print(f"{'  F latency p50 / p95, ms':<34}{f['p50']:>6.0f} / {f['p95']:<4.0f}"
          f"{of['p50']:>6.0f} / {of['p95']:.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
