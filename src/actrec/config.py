"""Typed configuration: dataclasses, filled from a YAML file in `configs/`, then `key=value`.

Sits beside the flow: `train`, `predict` and the CLI read it; it only knows `backbone`'s feature
settings. Unknown keys are errors with a "did you mean" hint, as in ultralytics.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from actrec.backbone import FeatureSettings
from actrec.errors import ActrecError


@dataclass
class DataConfig:
    format: str = "auto"  # auto (folder or list file) | ucf101 | hmdb51 | kinetics
    root: str | None = None  # official formats: the folder holding the videos
    annotations: str | None = None  # official formats: split files (Kinetics: CSV or folder)
    split: int = 1  # official formats: which split (UCF101/HMDB51: 1-3)
    train: str = "data/synth"  # folder with one sub-folder per class, or a list file
    val: str | None = None  # same forms; split from `train` when empty
    test: str | None = None
    group_regex: str = r"blk\d+|_g\d+|_a\d+"  # clips sharing the match never straddle splits
    val_frac: float = 0.15
    test_frac: float = 0.2
    val_groups: list[str] = field(default_factory=list)  # explicit groups instead of fractions
    test_groups: list[str] = field(default_factory=list)
    split_seed: int = 0
    window: int = 32  # sampled frames per training crop / timeline window
    batch: int = 32
    workers: int = 0  # DataLoader workers over the cache (reads are memory-mapped, cheap)
    class_weights: bool = True  # weight the loss by inverse class frequency
    sampler: str = "shuffle"  # shuffle | balanced (draw each class equally often; no loss weights)


@dataclass
class SampleConfig:
    fps: float = 10.0  # frames sampled per second of video
    chunk: int = 32  # frames decoded at once: bounds memory on long videos
    workers: int = 1  # decode processes feeding the backbone


@dataclass
class ModelConfig:
    hidden: int = 128
    layers: int = 1
    dropout: float = 0.3
    clip_norm: bool = True  # standardise each feature over the window's time axis


@dataclass
class TrainConfig:
    epochs: int = 200
    lr: float = 3e-3
    weight_decay: float = 0.01
    label_smoothing: float = 0.1
    patience: int = 60  # epochs without val/acc improvement before stopping
    seed: int = 0


@dataclass
class TrainerConfig:
    """Lightning Trainer arguments, shared by extraction (`Trainer.predict`) and training."""

    accelerator: str = "auto"  # auto | cpu | gpu | mps
    devices: Any = 1  # how many per node (or a list of ids, or "auto"); > 1 runs DDP
    num_nodes: int = 1
    strategy: str = "auto"  # auto (DDP when devices * num_nodes > 1) | ddp | ddp_spawn | ...


@dataclass
class EvalConfig:
    clips: int = 1  # K > 1: also average K evenly spaced windows per test video (multi-view)


@dataclass
class PredictConfig:
    stride: float = 1.0  # seconds between timeline windows


@dataclass
class Config:
    name: str = "exp"  # run folder: runs_dir/name
    runs_dir: str = "runs"
    cache_dir: str = "data/cache"
    exist_ok: bool = False  # reuse runs_dir/name instead of making name2, name3, ...
    resume: bool = False  # continue runs_dir/name from its last checkpoint (after an interruption)
    data: DataConfig = field(default_factory=DataConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)
    features: FeatureSettings = field(default_factory=FeatureSettings)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    predict: PredictConfig = field(default_factory=PredictConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


def _flat_keys(obj: Any, prefix: str = "") -> dict[str, Any]:
    """{'data.train': field_type, ...} for every leaf of a dataclass tree."""
    hints = typing.get_type_hints(type(obj))
    out: dict[str, Any] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if is_dataclass(value):
            out.update(_flat_keys(value, f"{prefix}{f.name}."))
        else:
            out[f"{prefix}{f.name}"] = hints[f.name]
    return out


def unknown_key(key: str, known: list[str], what: str = "key") -> ActrecError:
    """The error for a key nobody knows, with the closest known one as a hint."""
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.5)
    if not close:  # 'epochs' → 'train.epochs': match on the last part too
        tails = {k.rsplit(".", 1)[-1]: k for k in known}
        close = [tails[t] for t in difflib.get_close_matches(key, list(tails), n=1, cutoff=0.6)]
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return ActrecError(f"unknown {what} '{key}'{hint}")


def _coerce(key: str, value: Any, hint: Any) -> Any:
    """Check `value` against the field's type; ints are accepted where floats are expected."""
    allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if Any in allowed or value is None and type(None) in allowed:
        return value
    for t in allowed:
        origin = typing.get_origin(t) or t
        if origin is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if origin is str and isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        if origin is list and isinstance(value, (str, int)):
            return [value]
        if isinstance(value, origin) and not (origin is int and isinstance(value, bool)):
            return value
    names = " or ".join(getattr(t, "__name__", str(t)) for t in allowed)
    raise ActrecError(f"{key} expects {names}, got {value!r}")


def _set(cfg: Config, key: str, value: Any, known: dict[str, Any]) -> None:
    if key not in known:
        raise unknown_key(key, list(known))
    *parents, leaf = key.split(".")
    target = cfg
    for p in parents:
        target = getattr(target, p)
    setattr(target, leaf, _coerce(key, value, known[key]))


def _flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def parse_overrides(args: list[str]) -> dict[str, Any]:
    """['a.b=1', 'c=x'] → {'a.b': 1, 'c': 'x'}; values are parsed as YAML (true, 3, [4, 6])."""
    out: dict[str, Any] = {}
    for arg in args:
        key, sep, raw = arg.partition("=")
        if not sep or not key:
            raise ActrecError(f"expected key=value, got '{arg}'")
        try:
            out[key] = yaml.safe_load(raw) if raw else None
        except yaml.YAMLError:
            out[key] = raw
    return out


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Defaults ← YAML file ← overrides. Raises ActrecError on unknown keys or bad values."""
    cfg = Config()
    known = _flat_keys(cfg)
    tree: dict = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ActrecError(f"config file not found: {p}")
        try:
            tree = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            raise ActrecError(f"cannot parse {p}: {str(e).splitlines()[0]}") from None
        if not isinstance(tree, dict):
            raise ActrecError(f"{p} must hold a mapping of keys, not {type(tree).__name__}")
    for key, value in {**_flatten(tree), **(overrides or {})}.items():
        _set(cfg, key, value, known)
    return cfg


def to_dict(cfg: Config) -> dict:
    return asdict(cfg)


def save_config(cfg: Config, path: Path) -> None:
    path.write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
