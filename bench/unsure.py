"""How often a clear action is hidden under "…": the clip labels of the development clips that
show one action throughout, for one or more built-in models (training seeds), by unsure rule.

Clips (tracked once, shared with bench/falls.py in data/bench/falls/): Weizmann-4 (48), the wild
clips of walking, running, jumping and waving (14), of clapping, punching and the workouts, and
falls_dev's look-alikes (bending, sitting, kneeling, standing up: right when not a fall). A clip
is right when its label is one its action accepts; "…" is neither right nor wrong. Sources are
dealt into the halves of bench/falls.py: choose a rule on one, check it on the other.

    python bench/unsure.py [--models builtin data/bench/seed1.pt ...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import falls as falls_bench  # noqa: E402  (the same clips, halves and tracks)
from builtin_real import WAVING, WEIZMANN  # noqa: E402

UNSURE = "…"
CYCLIC = {"walking": "walking", "running": "running", "jumping": "jumping_in_place",
          "handwaving": WAVING}  # fmt: skip
OTHER = {"handclapping": "clapping", "punching": "punching", "push_up": "push_up",
         "squat": "squat", "sit_up": "sit_up", "pull_up": "pull_up", "lunge": "lunge"}  # fmt: skip
NOT_FALL = "bending|sitting|sitting_down|standing|standing_up|squat|lying"  # look-alikes' answers
LOOK_ALIKE = {"bending": "bending", "sitting": "sitting|sitting_down|standing_up",
              "kneeling": NOT_FALL, "standing_up": "standing_up|sitting|standing"}  # fmt: skip
# rules: name → (threshold, margin): "…" when the top score is under threshold and (margin set)
# it leads the second by less than margin
RULES = {"0.4 (before)": (0.4, None), "0.3": (0.3, None), "0.25": (0.25, None),
         "0.2": (0.2, None), "0.4, lead 0.1": (0.4, 0.1), "0.4, lead 0.15": (0.4, 0.15),
         "0.4, lead 0.2": (0.4, 0.2), "0.3, lead 0.1": (0.3, 0.1)}  # fmt: skip


def labelled_clips() -> list[tuple[falls_bench.Clip, str, str]]:
    """(clip, set name, accepted labels) for every single-action development clip present."""
    out = []
    for c in falls_bench.clips():
        p = Path(c.path)
        if c.source.startswith("weizmann"):
            out.append((c, "weizmann", WEIZMANN[p.parent.name]))
            continue
        truth = p.parent.name
        if "wild_dev" in c.path and truth in CYCLIC:
            out.append((c, "wild cyclic", CYCLIC[truth]))
        elif "wild_dev" in c.path and truth in OTHER:
            out.append((c, "wild other", OTHER[truth]))
        elif "falls_dev" in c.path and truth in LOOK_ALIKE:
            out.append((c, "look-alikes", LOOK_ALIKE[truth]))
    return [x for x in out if Path(x[0].path).is_file()]


def shown(probs: dict[str, float], label: str, threshold: float, margin: float | None) -> str:
    """The clip's label under a rule, from its probabilities (predict's own '…' for a barely
    seen person, or 'nobody', stays)."""
    if not probs or (label in (UNSURE, "nobody") and max(probs.values()) >= 0.4):
        return label
    (top, p1), (_, p2) = sorted(probs.items(), key=lambda kv: -kv[1])[:2]
    unsure = p1 < threshold and (margin is None or p1 - p2 < margin)
    return UNSURE if unsure else top


def answers(model: str, items: list, feats: dict) -> list[tuple[str, dict, str]]:
    """Per clip: (predict's label, probabilities, source) by `model` at the clip's size."""
    from actrec import Model
    from actrec.options import PredictOptions
    from actrec.predict import Predictor

    out, by_size = [], {}
    for c, _, _ in items:
        if c.imgsz not in by_size:
            m = Model(model, "cpu", people_imgsz=c.imgsz, echo=lambda *_: None)
            by_size[c.imgsz] = Predictor(m.loaded)
        v = feats[c.path]
        r = by_size[c.imgsz].label(v, PredictOptions(reps=False)) if not v.error else None
        out.append((r.label, r.probabilities, c.source) if r else ("nobody", {}, c.source))
    return out


def figures(items: list, got: list, rule: tuple, sources: set | None) -> dict[str, tuple]:
    """set → (right, unsure, clips) under `rule`, for the clips of `sources` (None: all)."""
    out: dict[str, list[int]] = {}
    for (_, name, accepted), (label, probs, source) in zip(items, got, strict=True):
        if sources is not None and source not in sources:
            continue
        said = shown(probs, label, *rule)
        for key in (name, "all"):
            row = out.setdefault(key, [0, 0, 0])
            row[0] += said in accepted.split("|")
            row[1] += said == UNSURE
            row[2] += 1
    return {k: tuple(v) for k, v in out.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["builtin"])
    a = p.parse_args()
    items = labelled_clips()
    if not items:
        raise SystemExit("no development clips under ../shared/data")
    split = falls_bench.halves([c for c, _, _ in items] + falls_bench.clips())
    feats = falls_bench.tracked([c for c, _, _ in items])
    got = {m: answers(m, items, feats) for m in a.models}
    sets = sorted({name for _, name, _ in items}) + ["all"]
    print(f"{len(items)} clips, {len(a.models)} model(s); right / '…' share, mean ± sd over models")
    for half, sources in [("all", None), *split.items()]:
        print(f"\n-- {half} --")
        print(f"{'rule':18s}" + "".join(f"{s:>26s}" for s in sets))
        for name, rule in RULES.items():
            per = [figures(items, got[m], rule, sources) for m in a.models]
            cells = []
            for s in sets:
                rights = [f[s][0] / f[s][2] for f in per if s in f]
                unsure = [f[s][1] / f[s][2] for f in per if s in f]
                if not rights:
                    cells.append(f"{'-':>26s}")
                    continue
                sd = statistics.stdev(rights) if len(rights) > 1 else 0.0
                cells.append(f"{np.mean(rights):.3f}±{sd:.3f} / {np.mean(unsure):.2f}".rjust(26))
            print(f"{name:18s}" + "".join(cells))


if __name__ == "__main__":
    main()
