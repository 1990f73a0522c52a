"""catalog (folders, list files, grouped splits) and config (YAML, overrides, unknown keys)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from actrec.catalog import Clip, build_splits, group_of, load_clips, split_clips
from actrec.config import Config, DataConfig, load_config
from actrec.errors import ActrecError
from actrec.keys import parse_overrides

ROOT = Path(__file__).resolve().parents[1]


def _touch_dataset(root: Path) -> Path:
    for c in ("jump", "wave"):
        for g in range(1, 6):
            for k in range(2):
                p = root / c / f"v_{c}_g{g:02d}_c{k:02d}.avi"
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(b"x")
    return root


def test_group_names():
    assert group_of("x/daria_bend_blk03_mirror.avi", r"blk\d+") == "blk03"
    assert group_of("v_Jump_g08_c02.avi", r"blk\d+|_g\d+") == "g08"
    assert group_of("clip_mirror.avi", r"blk\d+") == group_of("clip.avi", r"blk\d+")


def test_folder_per_class(tmp_path):
    clips = load_clips(_touch_dataset(tmp_path), r"_g\d+")
    assert len(clips) == 20 and {c.label for c in clips} == {"jump", "wave"}


def test_list_file_relative_paths_and_comments(tmp_path):
    _touch_dataset(tmp_path / "videos")
    lst = tmp_path / "lists" / "train.txt"
    lst.parent.mkdir()
    lst.write_text("# a comment\n../videos/jump/v_jump_g01_c00.avi jump\n\n"
                   "../videos/wave/v_wave_g02_c01.avi wave  # trailing\n")  # fmt: skip
    clips = load_clips(lst, r"_g\d+")
    assert [c.label for c in clips] == ["jump", "wave"]
    assert Path(clips[0].path) == (tmp_path / "videos/jump/v_jump_g01_c00.avi").resolve()


def test_unknown_class_in_list_file(tmp_path):
    lst = tmp_path / "val.txt"
    lst.write_text("a.avi jump\nb.avi dance\n")
    with pytest.raises(ActrecError, match=r"val.txt:2: unknown class 'dance'"):
        load_clips(lst, "", classes=["jump", "wave"])


def test_split_is_grouped_stratified_and_seeded():
    clips = [Clip(f"{c}_{g}_{k}", c, f"{c}{g}") for c in "abc" for g in range(10) for k in range(3)]
    tr, va, te = split_clips(clips, 0.2, 0.2, seed=1)
    groups = [{c.group for c in s} for s in (tr, va, te)]
    assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
    for s in (va, te):  # every class in every split: stratified
        assert {c.label for c in s} == {"a", "b", "c"}
    assert (tr, va, te) == split_clips(clips, 0.2, 0.2, seed=1)
    assert len(tr) + len(va) + len(te) == len(clips)


def test_explicit_test_groups(tmp_path):
    root = _touch_dataset(tmp_path)
    s = build_splits(DataConfig(train=str(root), group_regex=r"_g\d+", test_groups=["g04", "g05"]))
    assert {c.group for c in s.test} == {"g04", "g05"}
    assert not s.val and all(c.group not in ("g04", "g05") for c in s.train)
    with pytest.raises(ActrecError, match="group 'g99' not found"):
        build_splits(DataConfig(train=str(root), group_regex=r"_g\d+", test_groups=["g99"]))


def test_missing_and_unreadable_dataset(tmp_path):
    with pytest.raises(ActrecError, match="dataset not found"):
        load_clips(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ActrecError, match="no videos found"):
        load_clips(tmp_path / "empty")


def test_default_yaml_lists_every_key_with_its_default():
    """configs/default.yaml is the reference: read as plain YAML (not through the loader, which
    fills what is missing from the same dataclasses), it holds every key and no other."""
    import yaml

    from actrec.keys import flat_keys, flatten

    listed = flatten(yaml.safe_load((ROOT / "configs" / "default.yaml").read_text()))
    defaults = Config()
    assert sorted(listed) == sorted(flat_keys(defaults))
    for key, value in listed.items():
        node = defaults
        for part in key.split("."):
            node = getattr(node, part)
        assert node == value, key


@pytest.mark.parametrize(
    "name",
    [
        "synth.yaml",
        "weizmann4.yaml",
        "weizmann4_frames.yaml",
        "people_builtin.yaml",
        "default.yaml",
    ],
)
def test_shipped_configs_load_and_every_value_takes_effect(name):
    import yaml

    from actrec.keys import flatten

    path = ROOT / "configs" / name
    cfg = asdict(load_config(path))
    for key, value in flatten(yaml.safe_load(path.read_text())).items():
        node = cfg
        for part in key.split("."):
            node = node[part]
        assert node == value, key


def test_overrides_are_typed():
    cfg = load_config(None, parse_overrides(["train.epochs=5", "features.layers=[4,6]",
                                             "sample.fps=8", "data.val=null"]))  # fmt: skip
    assert cfg.train.epochs == 5 and cfg.features.layers == [4, 6]
    assert cfg.sample.fps == 8.0 and isinstance(cfg.sample.fps, float)
    with pytest.raises(ActrecError, match="train.epochs expects int"):
        load_config(None, {"train.epochs": "many"})
    with pytest.raises(ActrecError, match="features.imgsz expects a multiple of 32"):
        load_config(None, {"features.imgsz": 50})
    with pytest.raises(ActrecError, match="data.sampler expects one of shuffle, balanced"):
        load_config(None, {"data.sampler": "even"})


def test_an_empty_value_clears_a_text_option():
    # configs/weizmann4.yaml starts from the built-in model; `train.init=` trains from scratch
    path = ROOT / "configs" / "weizmann4.yaml"
    assert load_config(path).train.init == "builtin"
    assert load_config(path, parse_overrides(["train.init="])).train.init == ""


def test_unknown_key_suggests_the_closest():
    with pytest.raises(ActrecError, match="unknown key 'train.epoch'; did you mean 'train.epochs'"):
        load_config(None, {"train.epoch": 3})
    with pytest.raises(ActrecError, match="did you mean 'features.imgsz' or 'people.imgsz'"):
        load_config(None, {"imgsz": 3})
