"""catalog: UCF101, HMDB51 and Kinetics layouts, built tiny, give the official splits exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from actrec.catalog import build_splits
from actrec.config import load_config
from actrec.errors import ActrecError
from tests.conftest import write_clip


def _data(fmt: str, root: Path, ann: Path, **kw):
    return load_config(overrides={"data.format": fmt, "data.root": str(root),
                                  "data.annotations": str(ann), **kw}).data  # fmt: skip


def _names(clips) -> set[str]:
    return {Path(c.path).name for c in clips}


def test_ucf101_split_lists_are_respected(tmp_path):
    root, ann = tmp_path / "videos", tmp_path / "ucfTrainTestlist"
    ann.mkdir()
    classes = ["ApplyEyeMakeup", "Archery"]
    (ann / "classInd.txt").write_text("".join(f"{i} {c}\n" for i, c in enumerate(classes, 1)))
    train, test = [], []
    for k, c in enumerate(classes, 1):
        (root / c).mkdir(parents=True)
        for g in (1, 2, 3, 8, 9):
            name = f"{c}/v_{c}_g{g:02d}_c01.avi"
            write_clip(root / name, n=4)
            (test if g <= 2 else train).append((name, k))
    (ann / "trainlist01.txt").write_text("".join(f"{n} {k}\n" for n, k in train))
    (ann / "testlist01.txt").write_text("".join(f"{n}\n" for n, _ in test))
    s = build_splits(_data("ucf101", root, ann, **{"data.val_frac": 0.34}))
    assert s.classes == classes
    assert _names(s.test) == {Path(n).name for n, _ in test}
    assert _names(s.train + s.val) == {Path(n).name for n, _ in train}
    assert s.val and {c.group for c in s.val}.isdisjoint({c.group for c in s.train})
    assert all(c.label in c.path for c in s.all())


def test_hmdb51_ids_pick_train_test_and_unused(tmp_path):
    root, ann = tmp_path / "videos", tmp_path / "splits"
    ann.mkdir()
    for c in ("brush_hair", "cartwheel"):
        (root / c).mkdir(parents=True)
        rows = []
        for i, use in enumerate((1, 1, 2, 0)):
            write_clip(root / c / f"{c}_clip{i}.avi", n=4)
            rows.append(f"{c}_clip{i}.avi {use} \n")
        (ann / f"{c}_test_split1.txt").write_text("".join(rows))
    s = build_splits(_data("hmdb51", root, ann, **{"data.val_frac": 0}))
    assert s.classes == ["brush_hair", "cartwheel"]
    assert _names(s.train) == {f"{c}_clip{i}.avi" for c in s.classes for i in (0, 1)}
    assert _names(s.test) == {f"{c}_clip2.avi" for c in s.classes}  # id 0 is left out


def test_kinetics_csv_names_files_and_skips_missing_ones(tmp_path):
    root, ann = tmp_path / "videos", tmp_path / "annotations"
    ann.mkdir()
    rows = ["label,youtube_id,time_start,time_end,split"]
    for label in ("abseiling", "air drumming"):
        for i, split in enumerate(("train", "train", "validate")):
            yid = f"{label[:3]}{i}XYZ_-a"
            rows.append(f"{label},{yid},{i * 10},{i * 10 + 10},{split}")
            (root / split / label).mkdir(parents=True, exist_ok=True)
            write_clip(root / split / label / f"{yid}_{i * 10:06d}_{i * 10 + 10:06d}.mp4", n=4)
    rows.append("abseiling,gone000000A,0,10,train")  # deleted from YouTube: not on disk
    (ann / "kinetics.csv").write_text("\n".join(rows) + "\n")
    s = build_splits(_data("kinetics", root, ann))
    assert s.classes == ["abseiling", "air drumming"]
    validate = {f"{label[:3]}2XYZ_-a_000020_000030.mp4" for label in ("abseiling", "air drumming")}
    assert _names(s.test) == validate  # no labelled test split: the released val is the test set
    assert len(s.train) + len(s.val) == 4 and s.val  # validation comes out of train
    assert not _names(s.val) & _names(s.test)  # the checkpoint is never chosen on the test set
    assert all(Path(c.path).is_file() for c in s.all())


def test_official_formats_need_their_folders(tmp_path):
    with pytest.raises(ActrecError, match="needs data.root"):
        build_splits(load_config(overrides={"data.format": "ucf101"}).data)
    with pytest.raises(ActrecError, match="UCF101 class index not found"):
        build_splits(_data("ucf101", tmp_path, tmp_path / "nope"))
    with pytest.raises(ActrecError, match="data.format expects one of"):
        build_splits(_data("ucf", tmp_path, tmp_path))
