"""Real people, leave-one-source-out: train on some sources of `../shared/data/wild_dev`, test on
the one left out, for every source; whole-frame features against the person stream, from scratch
or from the built-in model.

Clips of one source share the person, camera and place, so a source never straddles train and
test. Prints each fold and the pooled top-1 over every held-out clip.

    python bench/real_people.py                       # walking vs running, both feature kinds
    python bench/real_people.py --classes walking,running,jumping --kinds people
    python bench/real_people.py --kinds builtin --seeds 0 1 2  # configs/people_builtin.yaml
    python bench/real_people.py --classes walking,running,handwaving --hmdb-waves \
        --kinds builtin,frames --seeds 0 1 2      # the README's own-classes example
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WILD = ROOT / ".." / "shared" / "data" / "wild_dev"
HMDB_WAVES = ROOT / ".." / "shared" / "data" / "formats"  # *_wave_*.avi: HMDB51's waves
KINDS = {
    "frames": {},  # the default whole-frame features (pretrained pose backbone when carried)
    "people": {"people.enabled": True, "model.hidden": 64},  # people from scratch, a small head
    "builtin": {"config": "configs/people_builtin.yaml"},  # people, from the built-in model
}


def folds(classes: list[str]) -> dict[str, list[tuple[str, str]]]:
    """source → its clips (absolute path, label) of `classes`."""
    by_source: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for line in (WILD / "list.txt").read_text().splitlines():
        path, label = line.split()
        if label in classes:
            by_source[Path(path).name.split("__")[0]].append((str((WILD / path).resolve()), label))
    return dict(by_source)


def run_fold(kind: str, held: str, sources: dict, tmp: Path, epochs: int | None, seed: int,
             extra: dict, always: list[tuple[str, str]]) -> list:  # fmt: skip
    from actrec.bundle import load_bundle
    from actrec.config import load_config
    from actrec.train import train

    def write(name: str, rows: list[tuple[str, str]]) -> str:
        (tmp / name).write_text("".join(f"{p} {c}\n" for p, c in rows))
        return str(tmp / name)

    train_rows = [r for s, rows in sources.items() if s != held for r in rows] + always
    kind_keys = dict(KINDS[kind])
    config = kind_keys.pop("config", None)
    cfg = load_config(config and str(ROOT / config), {
        "data.train": write(f"train_{held}.txt", train_rows),
        "data.test": write(f"test_{held}.txt", sources[held]), "data.val_frac": 0.0,
        "data.window": 32, "data.batch": 8, "train.seed": seed,
        **({"train.epochs": epochs} if epochs else {} if config else {"train.epochs": 60}),
        "name": f"{kind}_{held}", "runs_dir": str(tmp / "runs"), "exist_ok": True,
        "cache_dir": str(ROOT / "data" / "cache"), **kind_keys, **extra,
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
    p.add_argument("--epochs", type=int, default=None, help="default: the config's (60 without)")
    p.add_argument(
        "--hmdb-waves",
        action="store_true",
        help="train every fold on HMDB51's three waves too, as handwaving",
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--set", nargs="*", default=[], help="config overrides, key=value")
    a = p.parse_args()
    from actrec.keys import parse_overrides

    extra = parse_overrides(a.set)
    if not WILD.is_dir():
        raise SystemExit(f"{WILD} not found: the real clips live next to the project")
    from actrec.extract import quiet_lightning

    quiet_lightning()
    sources = folds(a.classes.split(","))
    always = [(str(p.resolve()), "handwaving") for p in sorted(HMDB_WAVES.glob("*_wave_*.avi"))
              if a.hmdb_waves]  # fmt: skip
    # a fold needs both classes in its training sources
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in a.kinds.split(","):
            accs = []
            for seed in a.seeds:
                pairs = []
                for held in sources:
                    got = run_fold(kind, held, sources, Path(tmp), a.epochs, seed, extra, always)
                    right = sum(t == q for t, q in got)
                    print(f"{kind:7s} seed {seed} held out {held:40s} {right}/{len(got)}")
                    pairs += got
                accs.append(sum(t == q for t, q in pairs) / max(1, len(pairs)))
                print(f"{kind} seed {seed}: leave-one-source-out top-1 {accs[-1]:.3f} over "
                      f"{len(pairs)} clips", flush=True)  # fmt: skip
            out[kind] = dict(top1=[round(x, 3) for x in accs], mean=round(float(sum(accs)) /
                             len(accs), 3), clips=len(pairs))  # fmt: skip
    print(json.dumps(out))


if __name__ == "__main__":
    main()
