"""The built-in model on real clips it never saw: top-1 per set, abstentions, confusion matrix.

Weizmann-4 (48 clips), wild_dev (walking, running, jumping, waving; clapping and boxing shown
apart), the HMDB51 waves, and with --vtest the share of vtest.avi's tracked person-seconds
labelled walking. People come from the person stream at the model's detection size (the cache is
shared with training, so a second run is quick); each clip is labelled by predict's rule.

    python bench/builtin_real.py [--model src/actrec/synthetic/builtin.pt] [--vtest]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
WAVING = "waving_one_hand|waving_both_hands"  # the source does not say which
# real label → the built-in class(es) that count as right ('' : not one of its actions)
WEIZMANN = {"bend": "bending", "jack": "jumping_jacks", "wave1": "waving_one_hand",
            "wave2": "waving_both_hands"}  # fmt: skip
WILD = {"walking": "walking", "running": "running", "jumping": "jumping_in_place",
        "handwaving": WAVING, "handclapping": "clapping", "boxing": ""}  # fmt: skip


def real_sets() -> dict[str, list[tuple[str, str]]]:
    """set name → (absolute path, accepted labels) for every real clip present."""
    sets: dict[str, list[tuple[str, str]]] = {"weizmann4": [], "wild_dev": [], "wild_other": [],
                                              "hmdb_wave": []}  # fmt: skip
    for p in sorted((DATA / "weizmann4").glob("*/*.avi")):
        sets["weizmann4"].append((str(p.resolve()), WEIZMANN[p.parent.name]))
    wild = DATA / "wild_dev" / "list.txt"
    for line in wild.read_text().splitlines() if wild.is_file() else []:
        path, label = line.split()
        name = (
            "wild_dev" if label in ("walking", "running", "jumping", "handwaving") else "wild_other"
        )
        sets[name].append((str((wild.parent / path).resolve()), WILD.get(label, "")))
    for p in sorted((DATA / "formats").glob("*_wave_*.avi")):
        sets["hmdb_wave"].append((str(p.resolve()), WAVING))
    return {k: v for k, v in sets.items() if v}


def score_clips(bundle: dict, clips: list[tuple[str, str]], source, cache_dir: Path,
                threshold: float) -> list:  # fmt: skip
    """→ per clip (path, accepted, top class, score, predict's label: the class or '…'); ''
    as the class where nobody was found."""
    from actrec.bundle import head_from_bundle
    from actrec.cache import FeatureCache
    from actrec.extract import extract
    from actrec.head import stride_steps
    from actrec.predict import Labeller

    s, classes = bundle["sample"], bundle["classes"]
    cache = FeatureCache(cache_dir, source.cache_key, s["fps"])
    summary = extract([p for p, _ in clips], source, cache, s["fps"], progress=False)
    stride = stride_steps(bundle["predict"]["stride"], s["fps"])
    label = Labeller(head_from_bundle(bundle), classes, s["window"], stride, threshold,
                     tuple(source.settings.parts))  # fmt: skip
    rows = []
    for path, accepted in clips:
        if path not in summary.ok:
            rows.append((path, accepted, "", 0.0, ""))
            continue
        feats = np.asarray(cache.load(path), np.float32)  # the main actor's (T, D)
        times = np.arange(len(feats)) / s["fps"]
        r = label(feats, times, 0.0, float(times[-1]))
        top = max(r["probabilities"], key=r["probabilities"].get)
        rows.append((path, accepted, top, r["score"], r["label"]))
    return rows


def by_source(rows: list) -> dict[str, tuple[int, int]]:
    """Scored rows → source (a Weizmann performer block, a wild_dev repository, an HMDB film)
    → (right, clips): clips of one source share person, camera and place."""
    out: dict[str, list[int]] = {}
    for path, acc, top, *_ in rows:
        name = Path(path).name
        block = re.search(r"blk\d+", name)
        group = block.group(0) if block else name.split("__")[0].split("_")[0]
        got = out.setdefault(group, [0, 0])
        got[0] += top in acc.split("|")
        got[1] += 1
    return {g: (r, n) for g, (r, n) in sorted(out.items())}


def vtest_share(model: str, imgsz: int) -> tuple[float, int]:
    """Share of person-seconds (people tracked ≥ 2 s) labelled walking, and how many people."""
    from person_seconds import label_seconds  # bench/, beside this script

    from actrec.options import PredictOptions
    from actrec.predict import predict_video

    r = predict_video(model, DATA / "formats" / "vtest.avi", PredictOptions(people_imgsz=imgsz,
                      progress=False))  # fmt: skip
    seconds, people = label_seconds(r.get("people", []), 2.0)
    return seconds["walking"] / max(sum(seconds.values()), 1e-9), len(people)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(ROOT / "src" / "actrec" / "synthetic" / "builtin.pt"))
    p.add_argument("--cache", default=str(ROOT / "data" / "cache"))
    p.add_argument("--threshold", type=float, default=None, help="below it: '…' (default: the "
                   "model's)")  # fmt: skip
    p.add_argument("--vtest", action="store_true", help="also vtest.avi at people_imgsz=960")
    p.add_argument("--json", default=str(ROOT / "data" / "bench" / "builtin_real.json"))
    a = p.parse_args()
    from actrec.bundle import load_bundle, source_for_bundle, threshold_for
    from actrec.extract import quiet_lightning

    quiet_lightning()
    bundle = load_bundle(a.model)
    source = source_for_bundle(bundle, "cpu")
    threshold = threshold_for(bundle, a.threshold)
    report: dict = {"model": a.model, "threshold": threshold, "sets": {}}
    pairs = []
    for name, clips in real_sets().items():
        rows = score_clips(bundle, clips, source, Path(a.cache), threshold)
        scored = [r for r in rows if r[1]]  # clips of one of the model's actions
        right = sum(top in acc.split("|") for _, acc, top, *_ in scored)
        unsure = [r for r in rows if r[4] == "…"]
        wrong_unsure = sum(r[2] not in r[1].split("|") for r in unsure)
        top1 = right / len(scored) if scored else float("nan")
        print(f"{name:11s} {len(rows):3d} clips  top-1 {top1:.3f}  shown as '…' {len(unsure)} "
              f"({wrong_unsure} of them wrong)")  # fmt: skip
        for path, acc, top, score, shown in rows:
            ok = "ok " if top in acc.split("|") else "   "
            print(f"   {ok}{Path(path).name[:46]:46s} {acc or '(none)':34s} {top:17s} {score:.2f}"
                  f"{'  …' if shown == '…' else ''}")  # fmt: skip
            pairs.append((acc.split("|")[0] or "(other)", top or "(nobody)"))
        groups = by_source(scored)
        print("   per source: " + ", ".join(f"{g} {r}/{n}" for g, (r, n) in groups.items()))
        report["sets"][name] = dict(clips=len(rows), top1=top1, unsure=len(unsure),
                                    unsure_wrong=wrong_unsure, rows=rows,
                                    sources=groups)  # fmt: skip
    if a.vtest:
        share, n = vtest_share(a.model, 960)
        print(
            f"vtest.avi   {n} people >= 2 s, share of person-seconds labelled walking {share:.3f}"
        )
        report["vtest"] = dict(people=n, walking_share=share)
    true = sorted({t for t, _ in pairs})
    cols = sorted({p for _, p in pairs})
    report["confusion"] = dict(true=true, predicted=cols,
                               counts=[[sum(1 for q in pairs if q == (t, c)) for c in cols]
                                       for t in true])  # fmt: skip
    print("\nconfusion (rows: true, columns: predicted)\n" + " " * 18 + " ".join(c[:7].rjust(7)
          for c in cols))  # fmt: skip
    for t, row in zip(true, report["confusion"]["counts"], strict=True):
        print(f"{t[:18]:18s}" + " ".join(str(v).rjust(7) for v in row))
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
