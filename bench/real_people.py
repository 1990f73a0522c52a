"""Real people, leave-one-source-out: train on some sources of `../shared/data/wild_dev`, test on
the one left out, for every source; whole-frame features against the person stream.

Clips of one source share the person, camera and place, so a source never straddles train and
test. Prints each fold and the pooled top-1 over every held-out clip.

    python bench/real_people.py                       # walking vs running, both feature kinds
    python bench/real_people.py --classes walking,running,jumping --kinds people
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WILD = ROOT / ".." / "shared" / "data" / "wild_dev"
KINDS = {
    "frames": {},  # the default whole-frame features (pretrained pose backbone when carried)
    "people": {"people.enabled": True, "model.clip_norm": False},
}


def folds(classes: list[str]) -> dict[str, list[tuple[str, str]]]:
    """source → its clips (absolute path, label) of `classes`."""
    by_source: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for line in (WILD / "list.txt").read_text().splitlines():
        path, label = line.split()
        if label in classes:
            by_source[Path(path).name.split("__")[0]].append((str((WILD / path).resolve()), label))
    return dict(by_source)


def run_fold(kind: str, held: str, sources: dict, tmp: Path, epochs: int, seed: int) -> list:
    from actrec.config import load_config
    from actrec.head import load_bundle
    from actrec.train import train

    def write(name: str, rows: list[tuple[str, str]]) -> str:
        (tmp / name).write_text("".join(f"{p} {c}\n" for p, c in rows))
        return str(tmp / name)

    train_rows = [r for s, rows in sources.items() if s != held for r in rows]
    cfg = load_config(None, {
        "data.train": write(f"train_{held}.txt", train_rows),
        "data.test": write(f"test_{held}.txt", sources[held]), "data.val_frac": 0.0,
        "data.window": 32, "data.batch": 8, "train.epochs": epochs, "train.seed": seed,
        "name": f"{kind}_{held}", "runs_dir": str(tmp / "runs"), "exist_ok": True,
        "cache_dir": str(ROOT / "data" / "cache"), **KINDS[kind],
    })  # fmt: skip
    m = train(cfg, echo=lambda *_: None)
    classes = load_bundle(Path(m["run_dir"]) / "model.pt")["classes"]
    cm = m["confusion_matrix"]
    return [(classes[i], classes[j]) for i in range(len(cm)) for j in range(len(cm))
            for _ in range(cm[i][j])]  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--classes", default="walking,running")
    p.add_argument("--kinds", default="frames,people")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    if not WILD.is_dir():
        raise SystemExit(f"{WILD} not found: the real clips live next to the project")
    from actrec.extract import quiet_lightning

    quiet_lightning()
    sources = folds(a.classes.split(","))
    # a fold needs both classes in its training sources
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in a.kinds.split(","):
            pairs = []
            for held in sources:
                got = run_fold(kind, held, sources, Path(tmp), a.epochs, a.seed)
                right = sum(t == q for t, q in got)
                print(f"{kind:7s} held out {held:40s} {right}/{len(got)}", flush=True)
                pairs += got
            acc = sum(t == q for t, q in pairs) / max(1, len(pairs))
            out[kind] = dict(top1=round(acc, 3), clips=len(pairs))
            print(f"{kind}: leave-one-source-out top-1 {acc:.3f} over {len(pairs)} clips")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
