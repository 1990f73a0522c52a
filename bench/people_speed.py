"""Speed of the person stream (`make bench`, after speed.py): G extraction, H live.

G. `extract` with `people.enabled=true` at the default detection size: sampled frames/s, end to
   end (decode in a worker, pose model on batches, tracker frame by frame, cache write), on the
   real clips of ../shared/data/wild_dev and the HMDB wave clips.
H. `actrec live` of a person-stream model on a real clip at realtime=false and at realtime=true:
   processed FPS, label latency p50/p95, people labelled per frame.

    python bench/people_speed.py [--imgsz 320]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "True")
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FPS = 10.0


def clips() -> list[str]:
    wild = sorted(str(p) for p in (SHARED / "wild_dev").rglob("*") if p.suffix in (".mp4", ".avi"))
    return wild + sorted(str(p) for p in (SHARED / "formats").glob("*wave*.avi"))


def bench_g(people, paths: list[str]) -> dict:
    from actrec.cache import FeatureCache
    from actrec.extract import extract
    from actrec.video import open_video, sampled_indices

    with tempfile.TemporaryDirectory() as tmp:
        cache = FeatureCache(tmp, people.cache_key, FPS)
        t = time.perf_counter()
        s = extract(paths, people, cache, FPS, progress=False)
        wall = time.perf_counter() - t
        frames = 0
        for path in s.ok:  # every sampled frame went through the pose model and the tracker
            with open_video(path) as v:
                frames += len(sampled_indices(v.n_frames, v.fps, FPS))
    return dict(videos=len(paths), ok=len(s.ok), wall_s=wall, fps=frames / wall)


def bench_h(people, video: str, realtime: bool) -> dict:
    import torch

    from actrec import Model
    from actrec.bundle import make_bundle
    from actrec.head import GRUHead

    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / "m.pt"
        head = GRUHead(people.feature_dim, 6, clip_norm=False)
        torch.save(make_bundle(head, [f"c{k}" for k in range(6)], people.describe(),
                               dict(fps=FPS, window=32), dict(stride=1.0)), bundle)  # fmt: skip
        log = Path(tmp) / "l.jsonl"
        watch = Model(bundle, echo=lambda *_: None).live(video, realtime=realtime,
                                                         headless=True, log=str(log))  # fmt: skip
        r = watch.run()
        rows = [json.loads(line) for line in log.read_text().splitlines()]
    per_t: dict[float, int] = {}
    for row in rows:
        per_t[row["t"]] = per_t.get(row["t"], 0) + 1
    return dict(fps=r["fps_median"], p50=r["latency_p50_ms"], p95=r["latency_p95_ms"],
                people_max=max(per_t.values(), default=0), frames=len(per_t))  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--imgsz", type=int, default=320)
    a = p.parse_args()
    from actrec.config import FeatureSettings, PeopleSettings
    from actrec.extract import quiet_lightning
    from actrec.people import People, pose_backbone

    quiet_lightning()
    paths = clips()
    if not paths:
        raise SystemExit(f"no clips under {SHARED}: the person-stream bench needs the real clips")
    people = People(pose_backbone(FeatureSettings()), PeopleSettings(enabled=True, imgsz=a.imgsz))
    g = bench_g(people, paths)
    live_clip = str(
        SHARED / "wild_dev" / "walking" / "sudchaudhary_videoactivitydescription__walking.avi"
    )  # noqa: E501
    h = {rt: bench_h(people, live_clip, rt) for rt in (False, True)}
    print(f"\n{'bench (person stream)':<50}{'value':>14}{'target':>12}")
    what = f"G extract, people.imgsz {a.imgsz}, {g['ok']}/{g['videos']} videos"
    print(f"{what:<50}{g['fps']:>10.1f} f/s{'>= 20':>12}")
    for rt, r in h.items():
        what = f"H live, realtime={str(rt).lower()} (30 fps file)"
        print(f"{what:<50}{r['fps']:>10.1f} FPS{'>= 15' if rt else '':>12}")
        print(
            f"{'  H latency p50 / p95':<50}{r['p50']:>6.0f} / {r['p95']:.0f} ms"
            f"{'p95 <= 150' if rt else '':>12}"
        )
    out = Path("data/bench")
    out.mkdir(parents=True, exist_ok=True)
    (out / "people_speed.json").write_text(json.dumps(dict(G=g, H=h), indent=1))


if __name__ == "__main__":
    main()
