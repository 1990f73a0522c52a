"""Live benchmark: a 30 fps file played through `actrec live` as a camera would deliver it.

Prints the processed FPS and the label latency (p50/p95) over the whole run and over its first and
last 10 seconds, so a latency that grows with time shows. Realtime (`--realtime`, default) paces
the file at 30 fps and drops what inference cannot keep up with; `--no-realtime` processes every
frame as fast as possible (benchmark F). The head is freshly initialised unless `--model` is given:
speed does not depend on its weights.

    python bench/live_speed.py [--seconds 60] [--imgsz 224] [--no-realtime] [--model M]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("YOLO_OFFLINE", "True")
DATA = Path(__file__).resolve().parents[1] / "data" / "bench"


def long_video(seconds: float, size=(640, 480), fps: float = 30.0) -> tuple[Path, list[dict]]:
    """Synthetic actions back to back, `seconds` long (made once, then reused) → path, segments.

    Segments: [{"start_s", "end_s", "label"}], the ground truth of every stretch.
    """
    from actrec.synthetic.synth import CLASSES, draw_performer, render_clip, write_video

    path = DATA / f"live_{size[0]}x{size[1]}_{seconds:g}s_{fps:g}fps.mp4"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        return path, json.loads(meta.read_text())
    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    parts, segments, total, k = [], [], 0, 0
    while total < seconds * fps:
        label = CLASSES[k % len(CLASSES)]
        clip = render_clip(label, draw_performer(rng), rng, size, fps)
        parts.append(clip)
        segments.append(dict(start_s=total / fps, end_s=(total + len(clip)) / fps, label=label))
        total, k = total + len(clip), k + 1
    write_video(path, np.concatenate(parts)[: int(seconds * fps)], fps)
    meta.write_text(json.dumps(segments, indent=1))
    return path, segments


def fresh_bundle(imgsz: int) -> Path:
    """A bundle with an untrained head over the default features at `imgsz`."""
    import torch

    from actrec.backbone import Backbone
    from actrec.bundle import make_bundle
    from actrec.config import FeatureSettings
    from actrec.head import GRUHead
    from actrec.synthetic.synth import CLASSES

    path = DATA / f"live_head_{imgsz}.pt"
    backbone = Backbone(FeatureSettings(imgsz=imgsz))
    head = GRUHead(backbone.feature_dim, len(CLASSES))
    sample = dict(fps=10.0, window=32)
    torch.save(
        make_bundle(head, list(CLASSES), backbone.describe(), sample, dict(stride=1.0)), path
    )
    return path


def stats(rows: list[dict]) -> dict:
    if not rows:
        return dict(frames=0, fps=0.0, p50=0.0, p95=0.0)
    lat = np.array([r["latency_ms"] for r in rows])
    fps = [r["fps"] for r in rows if r["fps"] > 0]
    return dict(frames=len(rows), fps=float(np.median(fps)) if fps else 0.0,
                p50=float(np.percentile(lat, 50)), p95=float(np.percentile(lat, 95)))  # fmt: skip


def run(seconds: float, imgsz: int, realtime: bool, model: str | None, mode: str,
        runtime: str = "torch") -> dict:  # fmt: skip
    from actrec import Model

    video, _ = long_video(seconds)
    model = model or str(fresh_bundle(imgsz))
    if runtime == "onnx":
        Model(model, echo=lambda *_: None).export("onnx")
    log = DATA / "live_log.jsonl"
    watch = Model(model, runtime=runtime, echo=lambda *_: None).live(
        str(video), mode=mode, realtime=realtime, headless=True, out=str(DATA / "live_out.mp4"),
        log=str(log))  # fmt: skip
    t0 = time.perf_counter()
    summary = watch.run()
    wall = time.perf_counter() - t0
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    end = rows[-1]["t"] if rows else 0.0
    return dict(
        video=str(video), imgsz=imgsz, realtime=realtime, mode=mode, wall_s=wall,
        dropped=summary["dropped"], all=stats(rows),
        first10=stats([r for r in rows if r["t"] < 10]),
        last10=stats([r for r in rows if r["t"] >= end - 10]),
    )  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--imgsz", type=int, default=224)
    p.add_argument("--realtime", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--model", default=None)
    p.add_argument("--mode", default="stream", choices=["stream", "window"])
    a = p.parse_args()
    r = run(a.seconds, a.imgsz, a.realtime, a.model, a.mode)
    print(f"live: {r['video']} (30 fps), imgsz {r['imgsz']}, realtime={r['realtime']}, "
          f"{r['mode']} mode, {r['wall_s']:.1f} s wall, {r['dropped']} frames dropped")  # fmt: skip
    print(f"{'span':<10}{'frames':>8}{'FPS (median)':>14}{'latency p50':>13}{'p95':>8}")
    for span in ("all", "first10", "last10"):
        s = r[span]
        print(f"{span:<10}{s['frames']:>8}{s['fps']:>14.1f}{s['p50']:>10.0f} ms{s['p95']:>5.0f} ms")
    (DATA / "live_result.json").write_text(json.dumps(r, indent=1))


if __name__ == "__main__":
    main()
