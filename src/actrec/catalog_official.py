"""Official dataset layouts (UCF101, HMDB51, Kinetics CSV) → train/val/test clips.

Part of the first stage (`catalog` calls it for `data.format` other than folder/list). Each reader
returns clips per official split; the video files live under `data.root`, the split files under
`data.annotations`. Files named in a split but absent on disk are skipped and counted (Kinetics
downloads always miss some), never fatal; a missing split file is one clear error.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

from actrec.errors import ActrecError

log = logging.getLogger("actrec")

VIDEO_EXTS = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".gif", ".mpg", ".mpeg", ".m4v", ".wmv"}
FORMATS = ("ucf101", "hmdb51", "kinetics")


def _need(path: Path, what: str) -> Path:
    if not path.is_file():
        raise ActrecError(f"{what} not found: {path}")
    return path


def _lines(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]


def ucf101(root: Path, ann: Path, split: int) -> dict[str, list[tuple[Path, str]]]:
    """classInd.txt ("1 ApplyEyeMakeup"), trainlist0N.txt ("Class/v_Class_g08_c01.avi 1"),
    testlist0N.txt ("Class/v_Class_g01_c01.avi"); the class is the folder of each path."""
    _need(ann / "classInd.txt", "UCF101 class index")
    out = {}
    for name, file in (
        ("train", f"trainlist{split:02d}.txt"),
        ("test", f"testlist{split:02d}.txt"),
    ):
        rows = _lines(_need(ann / file, f"UCF101 split {split} list"))
        out[name] = [(root / r.split()[0], r.split()[0].split("/")[0]) for r in rows]
    return out


def hmdb51(root: Path, ann: Path, split: int) -> dict[str, list[tuple[Path, str]]]:
    """`<class>_test_split<N>.txt` per class: "<video>.avi <id>", 1 train, 2 test, 0 unused."""
    files = sorted(ann.glob(f"*_test_split{split}.txt"))
    if not files:
        raise ActrecError(f"no HMDB51 split files *_test_split{split}.txt in {ann}")
    out: dict[str, list[tuple[Path, str]]] = {"train": [], "test": []}
    for f in files:
        label = f.name[: -len(f"_test_split{split}.txt")]
        for row in _lines(f):
            video, use = row.split()[:2]
            if use in ("1", "2"):
                out["train" if use == "1" else "test"].append((root / label / video, label))
    return out


def kinetics(root: Path, ann: Path, split: int) -> dict[str, list[tuple[Path, str]]]:
    """A Kinetics CSV (`label,youtube_id,time_start,time_end,split`); files named
    `<id>_<start:06d>_<end:06d>.mp4` anywhere under `root`. `ann` is the CSV, or a folder of
    them (train.csv, validate.csv, test.csv). As released, test has no labels: then the val split
    is the test set, and validation is split from train (choosing the checkpoint on the test
    set would flatter it)."""
    csvs = sorted(ann.glob("*.csv")) if ann.is_dir() else [_need(ann, "Kinetics CSV")]
    if not csvs:
        raise ActrecError(f"no Kinetics CSV files in {ann}")
    on_disk = {p.stem: p for p in root.rglob("*") if p.suffix.lower() in VIDEO_EXTS}
    out: dict[str, list[tuple[Path, str]]] = {"train": [], "val": [], "test": []}
    for f in csvs:
        with f.open(newline="") as fh:
            for row in csv.DictReader(fh):
                part = {"validate": "val"}.get(row.get("split", ""), row.get("split", "train"))
                if part not in out or not row.get("label"):
                    continue
                start, end = int(float(row["time_start"])), int(float(row["time_end"]))
                stem = f"{row['youtube_id']}_{start:06d}_{end:06d}"
                path = on_disk.get(stem, root / part / row["label"] / f"{stem}.mp4")
                out[part].append((path, row["label"]))
    if not out["test"]:
        out["test"], out["val"] = out["val"], []
    return out


def official_splits(fmt: str, root: str | None, annotations: str | None, split: int) -> dict:
    """→ {"train": [(path, label)], "test": [...], maybe "val"}, only files that exist."""
    if fmt not in FORMATS:
        raise ActrecError(f"data.format must be one of {', '.join(FORMATS)}: {fmt!r}")
    if not root or not annotations:
        raise ActrecError(f"data.format={fmt} needs data.root (videos) and data.annotations")
    r, a = Path(root), Path(annotations)
    if not r.is_dir():
        raise ActrecError(f"data.root: video folder not found: {r}")
    reader = {"ucf101": ucf101, "hmdb51": hmdb51, "kinetics": kinetics}[fmt]
    parts = reader(r, a, split)
    for name, rows in parts.items():
        present = [(p, label) for p, label in rows if p.is_file()]
        if len(present) < len(rows):
            log.warning(f"{fmt} {name}: {len(rows) - len(present)} of {len(rows)} listed videos "
                        f"are missing under {r}; skipped")  # fmt: skip
        parts[name] = present
    if not parts["train"]:
        raise ActrecError(f"{fmt} split {split}: no training video found under {r}")
    return parts
