"""Tiny, hermetic fixtures: synthetic clips made in the test, the untrained backbone at 64 px."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.setdefault("YOLO_OFFLINE", "True")
# the user cache folder (where `export builtin` writes) is the test run's own, never the user's
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="actrec-tests-cache-")

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
TINY_CLASSES = ["clapping", "jumping_jacks", "walking"]
TINY_FEATURES = dict(weights="yolo11n.yaml", imgsz=64, layers=[4, 6], batch=16)
POSE = dict(imgsz=64, layers=[4, 6], batch=16)  # the carried pretrained weights, small input


def write_clip(path: Path, n: int = 20, size: tuple[int, int] = (64, 48), fps: float = 25.0):
    """A moving square: n BGR frames written with OpenCV (mp4v)."""
    w, h = size
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for i in range(n):
        f = np.full((h, w, 3), 40, np.uint8)
        x = 4 + (i * 2) % (w - 16)
        cv2.rectangle(f, (x, 10), (x + 10, 30), (0, 200, 255), -1)
        out.write(f)
    out.release()
    return path


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """3 classes x 4 clips of 64x48 synthetic figures, 2 performers."""
    from actrec.synthetic.synth import generate

    root = tmp_path_factory.mktemp("synth")
    return generate(
        root, TINY_CLASSES, clips_per_class=4, performers=2, size=(64, 48), progress=False
    )


@pytest.fixture(scope="session")
def backbone():
    from actrec.backbone import Backbone, FeatureSettings

    return Backbone(FeatureSettings(**TINY_FEATURES))


@pytest.fixture()
def bad_videos(tmp_path) -> dict[str, Path]:
    """The bad inputs a user brings: empty, text, truncated, one frame."""
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    good = write_clip(tmp_path / "good.mp4", n=60)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    one = write_clip(tmp_path / "one_frame.mp4", n=1)
    return dict(empty=empty, text=text, truncated=truncated, one_frame=one)


@pytest.fixture(scope="session")
def run(tiny_dataset, tmp_path_factory) -> dict:
    """A 2-epoch training run on `tiny_dataset`: its metrics, with `run_dir` holding model.pt."""
    from actrec.config import load_config
    from actrec.train import train

    tmp = tmp_path_factory.mktemp("run")
    cfg = load_config(None, {
        "data.train": str(tiny_dataset), "data.window": 8, "data.batch": 4,
        "runs_dir": str(tmp / "runs"), "cache_dir": str(tmp / "cache"), "name": "tiny",
        "train.epochs": 2, "sample.workers": 0,
        **{f"features.{k}": v for k, v in TINY_FEATURES.items()},
    })  # fmt: skip
    return train(cfg, echo=lambda *_: None)


def write_ucf101(root: Path, classes: list[str], groups=(1, 8), clips: int = 2, n: int = 8):
    """A fake UCF101 tree: `root/videos/<class>/v_<class>_gGG_cCC.avi` and
    `root/ucfTrainTestlist/` (classInd, trainlist01, testlist01: groups 1-7 test, as in split 1).
    Returns (videos, annotations, {file name: 'train' | 'test'})."""
    videos, ann = root / "videos", root / "ucfTrainTestlist"
    ann.mkdir(parents=True, exist_ok=True)
    (ann / "classInd.txt").write_text("".join(f"{i} {c}\n" for i, c in enumerate(classes, 1)))
    lists: dict[str, list[str]] = {"train": [], "test": []}
    split: dict[str, str] = {}
    for k, c in enumerate(classes, 1):
        (videos / c).mkdir(parents=True, exist_ok=True)
        for g in groups:
            for j in range(1, clips + 1):
                name = f"{c}/v_{c}_g{g:02d}_c{j:02d}.avi"
                write_clip(videos / name, n=n + j + g % 5)
                stage = "test" if g <= 7 else "train"
                lists[stage].append(f"{name} {k}" if stage == "train" else name)
                split[Path(name).name] = stage
    (ann / "trainlist01.txt").write_text("".join(f"{line}\n" for line in lists["train"]))
    (ann / "testlist01.txt").write_text("".join(f"{line}\n" for line in lists["test"]))
    return videos, ann, split


def two_people_clip(path: Path, frames: int = 20) -> Path:
    """zidane.jpg (two people) panned across a wider canvas: both move, both stay in view."""
    from ultralytics.utils import ASSETS

    img = cv2.resize(cv2.imread(str(ASSETS / "zidane.jpg")), (480, 270))
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (560, 300))
    for i in range(frames):
        canvas = np.full((300, 560, 3), 90, np.uint8)
        x = 4 * i
        canvas[15:285, x : x + 480] = img
        out.write(canvas)
    out.release()
    return path


@pytest.fixture(scope="session")
def people_bundle(tmp_path_factory) -> Path:
    """A person-stream bundle: the carried pose weights, an untrained head over 3 classes."""
    import torch

    from actrec.backbone import Backbone
    from actrec.bundle import make_bundle
    from actrec.config import FeatureSettings, PeopleSettings
    from actrec.head import GRUHead
    from actrec.people import People

    people = People(Backbone(FeatureSettings(**POSE)), PeopleSettings(enabled=True, min_track=0.5))
    torch.manual_seed(0)
    head = GRUHead(people.feature_dim, 3, hidden=16, clip_norm=False)
    bundle = make_bundle(head, ["walking", "running", "waving"], people.describe(),
                         dict(fps=10.0, window=8), dict(stride=0.5))  # fmt: skip
    path = tmp_path_factory.mktemp("people") / "model.pt"
    torch.save(bundle, path)
    return path
