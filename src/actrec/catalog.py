"""Dataset description → list of `Clip(path, label, group)` and the train/val/test split.

First stage of the flow. Accepts a folder with one sub-folder per class, or a list file
(`path label` per line, paths relative to the list file, `#` comments, MMAction2 style). When only
a training set is given, val and test are split from it: stratified, seeded, and grouped, so that
clips of one group (a performer `blkNN`, a UCF101 `gNN`) never straddle two splits.
"""

from __future__ import annotations

import glob
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from actrec.catalog_official import FORMATS, VIDEO_EXTS, official_splits
from actrec.errors import ActrecError


@dataclass(frozen=True)
class Clip:
    path: str
    label: str
    group: str


@dataclass
class Splits:
    train: list[Clip]
    val: list[Clip]
    test: list[Clip]
    classes: list[str]  # sorted; a label's index is its class id

    def all(self) -> list[Clip]:
        return self.train + self.val + self.test


def group_of(path: str | Path, regex: str) -> str:
    """The group a clip belongs to: the first match of `regex` in its file name, else its stem.

    A `_mirror` copy falls back to the same stem as its original, so the two stay together.
    """
    stem = Path(path).stem
    m = re.search(regex, stem) if regex else None
    return m.group(0).strip("_") if m else stem.removesuffix("_mirror")


def scan_folder(root: Path, regex: str) -> list[Clip]:
    """`root/<class>/<video>`: every video file under each class folder (recursively)."""
    try:
        class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    except PermissionError:
        raise ActrecError(f"cannot read dataset folder {root}: permission denied") from None
    clips = []
    for d in class_dirs:
        try:
            files = sorted(p for p in d.rglob("*") if p.suffix.lower() in VIDEO_EXTS)
        except PermissionError:
            raise ActrecError(f"cannot read class folder {d}: permission denied") from None
        clips += [Clip(str(p), d.name, group_of(p, regex)) for p in files]
    if not clips:
        raise ActrecError(f"no videos found in {root} (expected {root}/<class>/<video>)")
    return clips


def read_list_file(path: Path, regex: str, classes: list[str] | None = None) -> list[Clip]:
    """`path label` per line; `#` starts a comment. A numeric label indexes `classes`."""
    clips = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.rsplit(maxsplit=1)
        if len(parts) != 2:
            raise ActrecError(f"{path}:{n}: expected 'path label', got '{line}'")
        rel, label = parts
        if label.isdigit() and classes:
            if int(label) >= len(classes):
                raise ActrecError(f"{path}:{n}: class index {label} out of range")
            label = classes[int(label)]
        elif classes and label not in classes:
            raise ActrecError(f"{path}:{n}: unknown class '{label}' (known: {', '.join(classes)})")
        video = (path.parent / rel).resolve() if not Path(rel).is_absolute() else Path(rel)
        clips.append(Clip(str(video), label, group_of(video, regex)))
    if not clips:
        raise ActrecError(f"list file {path} names no videos")
    return clips


def load_clips(spec: str | Path, regex: str = "", classes: list[str] | None = None) -> list[Clip]:
    """A folder-per-class dataset or a list file → clips."""
    p = Path(spec)
    if p.is_dir():
        clips = scan_folder(p, regex)
        if classes:
            bad = sorted({c.label for c in clips} - set(classes))
            if bad:
                raise ActrecError(f"{p}: unknown class '{bad[0]}' (known: {', '.join(classes)})")
        return clips
    if p.is_file():
        return read_list_file(p, regex, classes)
    raise ActrecError(f"dataset not found: {p}")


def _take(groups: list[str], sizes: dict[str, int], target: float) -> set[str]:
    """Take groups from the end of `groups` until their clips reach `target`; the last group is
    never taken, so training always keeps one."""
    taken: set[str] = set()
    count = 0
    while len(groups) > 1 and count < target:
        g = groups.pop()
        taken.add(g)
        count += sizes[g]
    return taken


def split_clips(
    clips: list[Clip], val_frac: float, test_frac: float, seed: int = 0
) -> tuple[list[Clip], list[Clip], list[Clip]]:
    """Grouped, seeded split. Stratified per class when every group holds one class; otherwise
    (a performer doing every action) groups are shuffled whole, which balances classes anyway."""
    labels_of_group: dict[str, set[str]] = defaultdict(set)
    for c in clips:
        labels_of_group[c.group].add(c.label)
    per_class = all(len(v) == 1 for v in labels_of_group.values())
    strata = sorted({c.label for c in clips}) if per_class else ["*"]
    val_g: set[str] = set()
    test_g: set[str] = set()
    rng = random.Random(seed)
    for s in strata:
        members = [c for c in clips if not per_class or c.label == s]
        sizes = Counter(c.group for c in members)
        groups = sorted(sizes)
        rng.shuffle(groups)
        test_g |= _take(groups, sizes, test_frac * len(members))
        val_g |= _take(groups, sizes, val_frac * len(members))
    pick = lambda gs: [c for c in clips if c.group in gs]  # noqa: E731
    return [c for c in clips if c.group not in val_g | test_g], pick(val_g), pick(test_g)


def _official(data) -> Splits:
    """UCF101 / HMDB51 / Kinetics: the official train/test (and val) split; val from train else."""
    parts = official_splits(data.format, data.root, data.annotations, data.split)
    clips = {k: [Clip(str(p), label, group_of(p, data.group_regex)) for p, label in v]
             for k, v in parts.items()}  # fmt: skip
    classes = sorted({c.label for c in clips["train"]})
    test = [c for c in clips["test"] if c.label in classes]
    if clips.get("val"):
        train, val = clips["train"], [c for c in clips["val"] if c.label in classes]
    else:
        train, val, _ = split_clips(clips["train"], data.val_frac, 0.0, data.split_seed)
    return Splits(train, val, test, classes)


def build_splits(data) -> Splits:
    """`data` is config's DataConfig: an official format, explicit val/test sets, explicit
    groups, or fractions."""
    if data.format in FORMATS:
        return _official(data)
    if data.format != "auto":  # the values config accepts, for a DataConfig built in code
        raise ActrecError(f"data.format must be one of auto, {', '.join(FORMATS)}: {data.format!r}")
    train = load_clips(data.train, data.group_regex)
    classes = sorted({c.label for c in train})
    val = load_clips(data.val, data.group_regex, classes) if data.val else []
    test = load_clips(data.test, data.group_regex, classes) if data.test else []
    if data.test_groups or data.val_groups:
        known = {c.group for c in train}
        for g in [*data.val_groups, *data.test_groups]:
            if g not in known:
                raise ActrecError(f"group '{g}' not found; groups are: {', '.join(sorted(known))}")
        test += [c for c in train if c.group in data.test_groups]
        val += [c for c in train if c.group in data.val_groups]
        train = [c for c in train if c.group not in {*data.test_groups, *data.val_groups}]
    elif not data.val or not data.test:
        vf = 0.0 if data.val else data.val_frac
        tf = 0.0 if data.test else data.test_frac
        train, v, t = split_clips(train, vf, tf, data.split_seed)
        val, test = val or v, test or t
    if not train:
        raise ActrecError("the training split is empty")
    return Splits(train, val, test, classes)


def video_sources(source) -> tuple[list[str], bool]:
    """What `predict` was given → (the videos, whether it was one video): a file or URL (one);
    a folder (its videos, recursively, sorted); a list file (`.txt`/`.list`: a path per line,
    optionally with a label, relative to the file; `#` comments); a glob; a list of any of these.
    """
    if isinstance(source, (list, tuple)):
        return [v for s in source for v in video_sources(s)[0]], False
    s = str(source)
    p = Path(s)
    if "://" in s:
        return [s], True
    if p.is_dir():
        files = sorted(str(f) for f in p.rglob("*") if f.suffix.lower() in VIDEO_EXTS)
        if not files:
            raise ActrecError(f"no videos found in {p}")
        return files, False
    if p.is_file() and p.suffix.lower() in LIST_EXTS:
        return _listed(p), False
    if any(c in s for c in "*?["):
        files = sorted(f for f in glob.glob(s, recursive=True) if Path(f).is_file())
        if not files:
            raise ActrecError(f"no files match {s}")
        return files, False
    return [s], True


LIST_EXTS = {".txt", ".list", ".lst"}


def _listed(path: Path) -> list[str]:
    """A list file's videos: the first field of each line (a label after it is ignored)."""
    out = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        whole = (path.parent / line).is_file() or Path(line).is_file()
        rel = line if whole else line.rsplit(maxsplit=1)[0]  # "path label", MMAction2 style
        out.append(str(Path(rel) if Path(rel).is_absolute() else path.parent / rel))
    if not out:
        raise ActrecError(f"list file {path} names no videos")
    return out
