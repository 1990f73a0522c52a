"""`actrec export MODEL`: the networks of a bundle as graphs other runtimes run (see `runtime`).

After `head` in the flow (no Lightning). Written next to the bundle (the built-in model's in the
user's cache folder, `bundle.builtin_exports`): `<stem>.head.onnx` (windows → logits),
`<stem>.step.onnx` (one streaming GRU step), `<stem>.pool.onnx` (GRU outputs → logits); for
whole-frame models `<stem>.backbone.onnx` (frames → pooled features, any batch); for person
models the pose model as ultralytics exports it, any input size: `<stem>.pose.onnx` and/or
`<stem>.pose_openvino_model/`. `<stem>.onnx.json` names the bundle's sha256 (a changed bundle
makes the export stale) and the runtimes it covers. ONNX Runtime and OpenVINO both read the
`.onnx` graphs.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from actrec.bundle import (
    BUILTIN_MODEL,
    builtin_exports,
    head_from_bundle,
    load_bundle,
    model_file,
    source_for_bundle,
)
from actrec.errors import ActrecError
from actrec.head import GRUHead
from actrec.weights import EXPORTED, export_yolo, runtime_installed

OPSET = 17
GRAPHS = ("backbone", "head", "step", "pool")
INSTALL = "ONNX export needs onnx and onnxruntime: pip install -e '.[onnx]'"
POSE_FORMATS = tuple(EXPORTED)  # onnx, openvino: the pose model's, as ultralytics exports it


def _need_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        raise ActrecError(INSTALL) from None


def paths(model: str | Path, out: str | Path | None = None) -> dict[str, Path]:
    """Where the export of `model` lives: its graphs and the manifest."""
    p = model_file(model)
    root = Path(out) if out else builtin_exports() if p == BUILTIN_MODEL else p.parent
    names = {g: root / f"{p.stem}.{g}.onnx" for g in GRAPHS}
    pose = {f"pose_{f}": root / f"{p.stem}.pose{EXPORTED[f]}" for f in POSE_FORMATS}
    return {**names, **pose, "manifest": root / f"{p.stem}.onnx.json"}


def bundle_hash(model: str | Path) -> str:
    return hashlib.sha256(model_file(model).read_bytes()).hexdigest()


class _Step(nn.Module):
    def __init__(self, head: GRUHead) -> None:
        super().__init__()
        self.head = head

    def forward(self, z: torch.Tensor, state: torch.Tensor):  # (B, D), (layers, B, H)
        return self.head.step(z, state)


class _Pool(nn.Module):
    def __init__(self, head: GRUHead) -> None:
        super().__init__()
        self.head = head

    def forward(self, outs: torch.Tensor) -> torch.Tensor:  # (1, T, H) → (1, C)
        return self.head.pool_classify(outs, torch.ones(outs.shape[:2], dtype=torch.bool))


class _Embed(nn.Module):
    def __init__(self, backbone) -> None:
        super().__init__()
        self.backbone = backbone
        self.layers = backbone.net  # registered, so the weights go into the graph

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, 3, S, S) → (N, C)
        return self.backbone.embed_graph(x)


def _save(module: nn.Module, args: tuple, path: Path, names: list[str], outs: list[str],
          dynamic: dict) -> None:  # fmt: skip
    tmp = path.with_name(f".{path.name}.tmp")
    # its warnings: GRU batch sizes (h0 is sized from the input) and constant map sizes (imgsz
    # is fixed per model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(module.eval(), args, str(tmp), input_names=names,
                              output_names=outs, dynamic_axes=dynamic, opset_version=OPSET,
                              dynamo=False)  # fmt: skip
        except Exception as e:  # the exporter's messages carry the whole graph: keep one line
            tmp.unlink(missing_ok=True)
            raise ActrecError(f"cannot export {path.name}: {str(e).splitlines()[0]}") from None
    os.replace(tmp, path)  # a graph is there whole, or not at all


@torch.no_grad()
def export_backbone(backbone, path: Path) -> None:
    """A `Backbone`'s `embed_graph` at its imgsz, any batch: (N, 3, S, S) → (N, C)."""
    s = backbone.settings.imgsz
    _save(_Embed(backbone), (torch.rand(2, 3, s, s),), path, ["frames"], ["features"],
          {"frames": {0: "N"}, "features": {0: "N"}})  # fmt: skip


def export_formats(fmt: str) -> list[str]:
    """`format=` → the runtimes to export for: auto is ONNX, and OpenVINO where it is installed."""
    if fmt == "auto":
        return ["onnx"] + (["openvino"] if runtime_installed("openvino") else [])
    return list(POSE_FORMATS) if fmt == "all" else [fmt]


@torch.no_grad()
def export(model: str | Path, out: str | Path | None = None, echo=print,
           fmt: str = "auto") -> dict[str, Path]:  # fmt: skip
    """Write the graphs of `model` (a bundle path or 'builtin') for the runtimes `fmt` names
    (auto | onnx | openvino | all), and their manifest."""
    _need_onnx()
    formats = export_formats(fmt)
    bundle = load_bundle(model)
    where = paths(model, out)
    where["manifest"].parent.mkdir(parents=True, exist_ok=True)
    graphs = _export_head(head_from_bundle(bundle), bundle["sample"]["window"], where)
    source = source_for_bundle(bundle, "cpu")
    if "people" in bundle["backbone"]:  # ultralytics' own export; the tracker stays in python
        for f in formats:
            export_yolo(source.backbone.loaded, f, where[f"pose_{f}"])
        runtimes = formats
    else:  # ONNX Runtime and OpenVINO both read the backbone graph
        export_backbone(source, where["backbone"])
        graphs.append("backbone")
        runtimes = list(POSE_FORMATS)
    manifest = dict(bundle_sha256=bundle_hash(model), opset=OPSET, graphs=graphs,
                    runtimes=runtimes, torch=torch.__version__)  # fmt: skip
    where["manifest"].write_text(json.dumps(manifest, indent=1))
    pose = [f"pose ({f})" for f in formats] if "people" in bundle["backbone"] else []
    echo(f"exported {', '.join(graphs + pose)} to {where['manifest'].parent}/ for "
         f"runtime={' | '.join(runtimes)}")  # fmt: skip
    return where


def _export_head(head, window: int, where: dict[str, Path]) -> list[str]:
    """The head's graphs: windows → logits, and (a GRU) live's streaming step and pooling."""
    d = head.config["in_dim"]
    _save(head, (torch.randn(2, window, d),), where["head"], ["windows"], ["logits"],
          {"windows": {0: "W", 1: "L"}, "logits": {0: "W"}})  # fmt: skip
    if not isinstance(head, GRUHead):  # an ensemble scores windows only
        return ["head"]
    h, n = head.config["hidden"], head.config["layers"]
    _save(_Step(head), (torch.randn(1, d), torch.zeros(n, 1, h)), where["step"],
          ["z", "state"], ["out", "new_state"], {})  # fmt: skip
    _save(_Pool(head), (torch.randn(1, 4, h),), where["pool"], ["outs"], ["logits"],
          {"outs": {1: "T"}})  # fmt: skip
    return ["head", "step", "pool"]
