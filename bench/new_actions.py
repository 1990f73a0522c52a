"""The built-in model on real people, every person of every clip: actions, events, false falls.

Tracks every person once per clip with the pose model (cached in data/bench/tracks/), then labels
them with each model given, as `predict` does (its windows, its events), and prints:
- the 17 wild_dev clips of falls, sitting down, workouts and punching, and ICVL's two falls,
  against tests/data/new_actions_truth.csv: a workout clip is right when its main actor's label
  is; an event clip when an event of its label lies within ±1 s of where one happens;
- Weizmann-4 (48 clips) and wild_dev's 14 walking / running / jumping / waving clips, top-1 (the
  main actor's top class; those under the threshold, which predict shows as '…', are marked);
- vtest.avi at people_imgsz=960: the share of person-seconds (people tracked ≥ 2 s) labelled
  walking;
- every fall reported where there is none (vtest's pedestrians, wild_dev's cyclic clips,
  Weizmann).

    python bench/new_actions.py --models src/actrec/synthetic/builtin.pt /tmp/b1.pt /tmp/b2.pt
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
from person_seconds import label_seconds  # bench/, beside this script

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
TRUTH = ROOT / "tests" / "data" / "new_actions_truth.csv"
TRACKS = ROOT / "data" / "bench" / "tracks"
WEIZMANN = {"bend": "bending", "jack": "jumping_jacks", "wave1": "waving_one_hand",
            "wave2": "waving_both_hands"}  # fmt: skip
WILD = {"walking": "walking", "running": "running", "jumping": "jumping_in_place",
        "handwaving": "waving_one_hand|waving_both_hands"}  # fmt: skip


def clips() -> dict[str, list[tuple[Path, str, str, int]]]:
    """set → (path, accepted labels, events, detection size) for every clip present."""
    out: dict[str, list] = {"new": [], "cyclic": [], "weizmann": [], "vtest": []}
    for row in csv.reader(line for line in TRUTH.read_text().splitlines() if line[:1] != "#"):
        out["new"].append((DATA / row[0], row[1], row[2], int(row[3]) if len(row) > 3 else 320))
    listed = DATA / "wild_dev" / "list.txt"
    for line in listed.read_text().splitlines() if listed.is_file() else []:
        path, label = line.split()
        if label in WILD:
            out["cyclic"].append((DATA / "wild_dev" / path, WILD[label], "", 320))
    for p in sorted((DATA / "weizmann4").glob("*/*.avi")):
        out["weizmann"].append((p, WEIZMANN[p.parent.name], "", 256))
    out["vtest"].append((DATA / "formats" / "vtest.avi", "walking", "", 960))
    return {k: [c for c in v if c[0].is_file()] for k, v in out.items()}


def tracks_of(path: Path, imgsz: int, fps: float) -> list[dict]:
    """Every person tracked in `path` (main actor first): times, boxes, xy, conf; cached."""
    from actrec.bundle import load_bundle, source_for_bundle
    from actrec.features import video_features

    cached = TRACKS / f"{path.stem}-{imgsz}.npz"
    if cached.is_file():
        with np.load(cached) as z:
            ids = sorted({int(k.split("_")[0][1:]) for k in z.files})
            return [{k.split("_", 1)[1]: z[k] for k in z.files if k.startswith(f"t{i:03d}_")}
                    for i in ids]  # fmt: skip
    people = source_for_bundle(load_bundle("builtin"), "cpu", imgsz=imgsz)
    v = video_features(str(path), people, fps, progress=False, nobody_ok=True)
    keep = ("times", "boxes", "xy", "conf")
    tracks = [{**{k: t[k] for k in keep}, "id": np.int64(t["id"])} for t in v.tracks]
    TRACKS.mkdir(parents=True, exist_ok=True)
    np.savez(cached, **{f"t{n:03d}_{k}": v for n, t in enumerate(tracks) for k, v in t.items()})
    return tracks


def label_tracks(bundle: dict, tracks: list[dict]) -> list[dict]:
    """`predict`'s answer per person: label, score, timeline, events."""
    from actrec.bundle import head_from_bundle, threshold_for
    from actrec.head import stride_steps
    from actrec.pose import pose_features
    from actrec.predict import Labeller

    s, parts = bundle["sample"], tuple(bundle["backbone"]["people"]["parts"])
    label = Labeller(head_from_bundle(bundle), bundle["classes"], s["window"],
                     stride_steps(bundle["predict"]["stride"], s["fps"]),
                     threshold_for(bundle, None), parts)  # fmt: skip
    out = []
    for t in tracks:
        feats = pose_features(t["xy"], t["conf"], t["boxes"], parts)
        start, end = float(t["times"][0]), float(t["times"][-1]) + 1 / s["fps"]
        out.append(dict(id=int(t["id"]), start_s=start, end_s=end,
                        **label(feats, t["times"], start, end)))  # fmt: skip
    return out


def event_found(people: list[dict], truth: str) -> bool:
    """Any true event (label@start-end) matched by a reported one of its label within ±1 s."""
    for item in truth.split(";"):
        name, span = item.split("@")
        a, b = (float(x) for x in span.split("-"))
        if any(e["label"] == name and e["start_s"] <= b + 1 and e["end_s"] >= a - 1
               for p in people for e in p["events"]):  # fmt: skip
            return True
    return False


def evaluate(bundle: dict, sets: dict) -> dict:
    """One model on every set → per-clip rows and the figures."""
    fps, report, false = bundle["sample"]["fps"], {}, []
    for name, items in sets.items():
        rows = []
        for path, accepted, truth, imgsz in items:
            people = label_tracks(bundle, tracks_of(path, imgsz, fps))
            # top-1 as bench/builtin_real.py counts it: the main actor's top class, whether or
            # not it clears the threshold (predict would show '…' then: counted apart)
            probs = people[0]["probabilities"] if people else {}
            main = max(probs, key=probs.get) if probs else "(nobody)"
            main += " (…)" if people and people[0]["label"] == "…" else ""
            right = event_found(people, truth) if truth else main.split()[0] in accepted.split("|")
            rows.append((path.name, accepted, main, right))
            if name != "new":
                false += [(path.name, p["id"], e) for p in people for e in p["events"]
                          if e["label"] == "falling"]  # fmt: skip
            if name == "vtest":  # each moment counted once, as bench/person_seconds.py does
                secs, long = label_seconds(people, 2.0)
                report["vtest_walking"] = secs["walking"] / max(sum(secs.values()), 1e-9)
                report["vtest_people"] = len(long)
        report[name] = rows
    report["false_falls"] = false
    return report


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["builtin"])
    p.add_argument("--sets", default="new,cyclic,weizmann,vtest")
    a = p.parse_args()
    from actrec.bundle import load_bundle
    from actrec.extract import quiet_lightning

    quiet_lightning()
    sets = {k: v for k, v in clips().items() if k in a.sets.split(",")}
    summary = {}
    for model in a.models:
        r = evaluate(load_bundle(model), sets)
        print(f"== {model}")
        for name in sets:
            rows = r[name]
            if name == "vtest":
                print(f"vtest: {r['vtest_people']} people >= 2 s, walking share "
                      f"{r['vtest_walking']:.3f}")  # fmt: skip
                continue
            print(f"{name}: {sum(x[3] for x in rows)}/{len(rows)}")
            per: dict[str, list[int]] = {}
            for clip, acc, got, ok in rows:
                per.setdefault(acc, [0, 0])[0] += ok
                per[acc][1] += 1
                if name == "new" or not ok:
                    print(f"   {'ok ' if ok else '   '}{clip[:50]:50s} {acc:20s} {got}")
            print("   per class: " + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in per.items()))
        print(f"false falls: {len(r['false_falls'])} " + "; ".join(
            f"{c} person {i} at {e['start_s']:.1f}-{e['end_s']:.1f} s ({e['score']:.2f})"
            for c, i, e in r["false_falls"]))  # fmt: skip
        top1 = {name: sum(row[3] for row in r[name]) / len(r[name])
                for name in sets if name != "vtest" and r[name]}  # fmt: skip
        summary[model] = {**top1, "false_falls": len(r["false_falls"]),
                          **{k: v for k, v in r.items() if k.startswith("vtest_")}}  # fmt: skip
    print(json.dumps(summary, default=str))


if __name__ == "__main__":
    main()
