"""ONNX export, and the ONNX Runtime path that `predict`, `live` and `evaluate` take with it.

After `head` in the flow (no Lightning). `actrec export MODEL` writes next to the bundle what runs
per frame and per window: `<stem>.backbone.onnx` (frames → pooled features, any batch),
`<stem>.head.onnx` (windows → logits), `<stem>.step.onnx` (one streaming GRU step) and
`<stem>.pool.onnx` (GRU outputs → logits), with `<stem>.onnx.json` naming the bundle's sha256.
`runtime=onnx` puts ONNX Runtime sessions behind the same methods the torch modules have; the
preprocessing (resize, /255, the motion difference, per-window standardisation) stays in the one
shared code path, so the two runtimes cannot drift apart. Person models keep the pose model and
tracker in torch (ultralytics), and run their head in ONNX.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from actrec.bundle import head_from_bundle, load_bundle, model_file
from actrec.errors import ActrecError
from actrec.head import GRUHead

OPSET = 17
GRAPHS = ("backbone", "head", "step", "pool")
INSTALL = "ONNX export needs onnx and onnxruntime: pip install -e '.[onnx]'"


def _need_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        raise ActrecError(INSTALL) from None


def paths(model: str | Path, out: str | Path | None = None) -> dict[str, Path]:
    """Where the export of `model` lives: its graphs and the manifest."""
    p = model_file(model)
    root = Path(out) if out else p.parent
    names = {g: root / f"{p.stem}.{g}.onnx" for g in GRAPHS}
    return {**names, "manifest": root / f"{p.stem}.onnx.json"}


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


def onnx_embed(path: Path) -> Callable[[torch.Tensor], torch.Tensor]:
    """An exported backbone graph as the function `Backbone.use_runtime` takes."""
    sess = _session(path)

    def embed(x: torch.Tensor) -> torch.Tensor:  # (N, 3, S, S) → (N, C), as embed_graph
        return torch.from_numpy(sess.run(None, {"frames": x.float().numpy()})[0])

    return embed


@torch.no_grad()
def export(model: str | Path, out: str | Path | None = None, echo=print) -> dict[str, Path]:
    """Write the ONNX graphs of `model` (a bundle path or 'builtin') and their manifest."""
    _need_onnx()
    bundle = load_bundle(model)
    where = paths(model, out)
    where["manifest"].parent.mkdir(parents=True, exist_ok=True)
    head = head_from_bundle(bundle)
    d, h, n = head.config["in_dim"], head.config["hidden"], head.config["layers"]
    window = bundle["sample"]["window"]
    _save(head, (torch.randn(2, window, d),), where["head"], ["windows"], ["logits"],
          {"windows": {0: "W", 1: "L"}, "logits": {0: "W"}})  # fmt: skip
    graphs = ["head"]
    if isinstance(head, GRUHead):  # live's streaming step (an ensemble scores windows only)
        _save(_Step(head), (torch.randn(1, d), torch.zeros(n, 1, h)), where["step"],
              ["z", "state"], ["out", "new_state"], {})  # fmt: skip
        _save(_Pool(head), (torch.randn(1, 4, h),), where["pool"], ["outs"], ["logits"],
              {"outs": {1: "T"}})  # fmt: skip
        graphs += ["step", "pool"]
    if "people" not in bundle["backbone"]:  # the pose model and tracker stay in ultralytics
        from actrec.bundle import source_for_bundle

        export_backbone(source_for_bundle(bundle, "cpu"), where["backbone"])
        graphs.append("backbone")
    manifest = dict(bundle_sha256=bundle_hash(model), opset=OPSET, graphs=graphs,
                    torch=torch.__version__)  # fmt: skip
    where["manifest"].write_text(json.dumps(manifest, indent=1))
    echo(f"exported {', '.join(graphs)} to {where['manifest'].parent}/ (opset {OPSET})")
    return where


# ---- the ONNX Runtime path ----------------------------------------------------------------------


def _session(path: Path):
    import onnxruntime as ort

    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                 if p in ort.get_available_providers()]  # fmt: skip
    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # warnings about unused initialisers are not the user's business
    # its threads otherwise spin between calls, starving the decoder, the capture thread and
    # torch on a small CPU: live fell from 69 to 27 FPS
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.intra_op_num_threads = torch.get_num_threads()
    return ort.InferenceSession(str(path), opts, providers=providers)


class OnnxHead(nn.Module):
    """`GRUHead`'s methods that predict and live call, run by ONNX Runtime."""

    def __init__(self, head: GRUHead, where: dict[str, Path]) -> None:
        super().__init__()
        self.config, self.clip_norm = head.config, head.clip_norm
        self.sessions = {g: _session(where[g]) for g in ("head", "step", "pool")}

    def _run(self, graph: str, **inputs: torch.Tensor) -> list[torch.Tensor]:
        feed = {k: v.detach().float().cpu().numpy() for k, v in inputs.items()}
        return [torch.from_numpy(o) for o in self.sessions[graph].run(None, feed)]

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if lengths is not None and bool((lengths != x.shape[1]).any()):
            raise ActrecError("the ONNX head scores windows of equal length only")
        return self._run("head", windows=x)[0]

    def step(self, z: torch.Tensor, state: torch.Tensor | None = None):
        if state is None:
            state = torch.zeros(self.config["layers"], len(z), self.config["hidden"])
        out, new = self._run("step", z=z, state=state)
        return out, new

    def pool_classify(self, outs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self._run("pool", outs=outs)[0]


def use_onnx(model: str | Path, head: GRUHead, source) -> OnnxHead:
    """Put the export of `model` behind `source` (its backbone graph, for whole-frame models)
    and return the head to use; a missing or stale export is one clear error."""
    _need_onnx()
    where = paths(model)
    if not where["manifest"].is_file():
        raise ActrecError(f"no ONNX export of {model}: run 'actrec export {model}' first")
    manifest = json.loads(where["manifest"].read_text())
    if manifest["bundle_sha256"] != bundle_hash(model):
        raise ActrecError(f"the ONNX export of {model} is stale (the model changed since it was "
                          f"exported): run 'actrec export {model}' again")  # fmt: skip
    if "backbone" in manifest["graphs"]:
        source.use_runtime(onnx_embed(where["backbone"]))
    return OnnxHead(head, where)
