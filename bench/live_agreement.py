"""How close `actrec live` comes to `actrec predict` (README: agreement rate).

1. Held-out clips (default: the demo's test list): each clip is labelled by `predict` and by
   `live` in stream and window mode; live's label is its final smoothed label.
2. A 60 s video of synthetic actions back to back (bench/live_speed.py makes it): every live
   label is compared with the true action at that moment and with `predict`'s timeline window
   there, over all frames and over "settled" frames (the action has lasted 3 s).

Live runs on the file with `realtime=false` (no frame dropped, so the figures do not depend on
the machine's load) and `threshold=0` (the top class is compared, not whether it is shown).

    python bench/live_agreement.py [--model runs/demo/model.pt] [--list runs/demo/test_list.txt]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from live_speed import DATA, long_video

os.environ.setdefault("YOLO_OFFLINE", "True")
SETTLED_S = 3.0


def clips(list_file: Path) -> list[tuple[str, str]]:
    """(absolute path, label) pairs of a `path label` list file."""
    rows = [ln.split() for ln in list_file.read_text().splitlines() if ln and ln[0] != "#"]
    return [(str((list_file.parent / p).resolve()), label) for p, label in rows]


def live_log(model: str, video: str, mode: str) -> tuple[str, list[dict]]:
    """Run live on a file → (final label, every logged row)."""
    from actrec import Model

    log = DATA / f"agreement_{mode}.jsonl"
    summary = (
        Model(model, echo=lambda *_: None)
        .live(video, mode=mode, realtime=False, headless=True, threshold=0.0, log=str(log))
        .run()
    )
    return summary["label"], [json.loads(line) for line in log.read_text().splitlines()]


def held_out(model: str, list_file: str, limit: int | None) -> list[dict]:
    from actrec import Model

    predict = Model(model, echo=lambda *_: None).predict
    rows: list[dict] = []
    for video, truth in clips(Path(list_file)):
        if limit and sum(r["truth"] == truth for r in rows) >= limit:
            continue
        row = dict(video=video, truth=truth, predict=predict(video).label)
        for mode in ("stream", "window"):
            row[mode] = live_log(model, video, mode)[0]
        rows.append(row)
    return rows


def at(t: float, spans: list[dict], key: str = "label") -> str:
    """The label of the span holding time `t` (the nearest centre for overlapping windows)."""
    return min(spans, key=lambda s: 0 if s["start_s"] <= t < s["end_s"] else
               abs((s["start_s"] + s["end_s"]) / 2 - t))[key]  # fmt: skip


def long_run(model: str) -> dict:
    from dataclasses import asdict

    from actrec import Model

    video, segments = long_video(60)
    timeline = [asdict(w) for w in Model(model, echo=lambda *_: None).predict(str(video)).timeline]
    settled = [s for s in segments if s["end_s"] - s["start_s"] > SETTLED_S]
    out = {}
    for mode in ("stream", "window"):
        rows = live_log(model, str(video), mode)[1]
        calm = [r for r in rows if any(s["start_s"] + SETTLED_S <= r["t"] < s["end_s"]
                                       for s in settled)]  # fmt: skip
        out[mode] = dict(
            right=sum(r["label"] == at(r["t"], segments) for r in rows) / len(rows),
            right_settled=sum(r["label"] == at(r["t"], segments) for r in calm) / len(calm),
            agrees=sum(r["label"] == at(r["t"], timeline) for r in rows) / len(rows),
        )
    out["predict"] = dict(
        right=sum(w["label"] == at((w["start_s"] + w["end_s"]) / 2, segments) for w in timeline)
        / len(timeline)
    )
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="runs/demo/model.pt")
    p.add_argument("--list", default="runs/demo/test_list.txt")
    p.add_argument("--limit", type=int, default=None, help="only the first N clips per class")
    a = p.parse_args()
    rows = held_out(a.model, a.list, a.limit)
    n = len(rows)

    def rate(key: str, other: str) -> float:
        return sum(r[key] == r[other] for r in rows) / n

    print(f"1. {n} held-out clips of {a.list}, model {a.model}: final label")
    print(f"{'':<10}{'agrees with predict':>21}{'accuracy':>10}")
    print(f"{'predict':<10}{'-':>21}{rate('predict', 'truth'):>10.3f}")
    for mode in ("stream", "window"):
        print(f"{mode:<10}{rate(mode, 'predict'):>21.3f}{rate(mode, 'truth'):>10.3f}")
    long = long_run(a.model)
    print("2. 60 s of back-to-back synthetic actions: every live label")
    print(f"{'':<10}{'agrees with predict':>21}{'accuracy':>10}{'settled (3 s in)':>18}")
    print(f"{'predict':<10}{'-':>21}{long['predict']['right']:>10.3f}{'-':>18}")
    for mode in ("stream", "window"):
        m = long[mode]
        print(f"{mode:<10}{m['agrees']:>21.3f}{m['right']:>10.3f}{m['right_settled']:>18.3f}")
    out = DATA / "live_agreement.json"
    out.write_text(json.dumps(dict(clips=rows, long=long), indent=1))


if __name__ == "__main__":
    main()
