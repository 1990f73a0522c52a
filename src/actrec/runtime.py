"""Which runtime runs the networks (`runtime=torch|onnx|openvino|auto`) once `export` wrote them.

After `export` in the flow. ONNX Runtime or OpenVINO sessions go behind the methods the torch
modules have: the head's graphs (`GraphHead`), the whole-frame backbone's graph, and, for
person models, ultralytics' own export of the pose model (`People.use_runtime`). The
preprocessing (resizing, /255, the motion difference, per-window standardisation) and the
tracker stay in the one shared code path, so the runtimes cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from actrec.backbone import Backbone
from actrec.bundle import head_from_bundle, load_bundle, source_for_bundle
from actrec.errors import ActrecError
from actrec.export import bundle_hash, paths
from actrec.head import GRUHead
from actrec.people import People
from actrec.weights import need_runtime, openvino_config, runtime_installed

FASTEST = ("openvino", "onnx", "torch")  # config.RUNTIMES, fastest first on CPUs (benchmarks.md)


def _ort_session(path: Path):
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


class _OpenVinoSession:
    """An ONNX graph compiled by OpenVINO, called as an ONNX Runtime session is."""

    def __init__(self, path: Path) -> None:
        import openvino as ov

        config = {**openvino_config(), "INFERENCE_NUM_THREADS": torch.get_num_threads()}
        self.model = ov.Core().compile_model(str(path), "CPU", config)

    def run(self, _outputs, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        result = self.model(feed)
        return [result[o] for o in self.model.outputs]


def session(path: Path, runtime: str):
    """A graph written by `export` in `runtime` (onnx: ONNX Runtime; openvino: OpenVINO)."""
    need_runtime(runtime)
    return _ort_session(path) if runtime == "onnx" else _OpenVinoSession(path)


def graph_embed(path: Path, runtime: str = "onnx") -> Callable[[torch.Tensor], torch.Tensor]:
    """An exported backbone graph as the function `Backbone.use_runtime` takes."""
    sess = session(path, runtime)

    def embed(x: torch.Tensor) -> torch.Tensor:  # (N, 3, S, S) → (N, C), as embed_graph
        return torch.from_numpy(sess.run(None, {"frames": x.float().numpy()})[0])

    return embed


class GraphHead(nn.Module):
    """`GRUHead`'s methods that predict and live call, run by ONNX Runtime or OpenVINO."""

    def __init__(self, head: GRUHead, where: dict[str, Path], graphs: list[str], runtime: str):
        super().__init__()
        self.config, self.clip_norm = head.config, head.clip_norm
        self.sessions = {g: session(where[g], runtime) for g in ("head", "step", "pool")
                         if g in graphs}  # fmt: skip

    def _run(self, graph: str, **inputs: torch.Tensor) -> list[torch.Tensor]:
        feed = {k: v.detach().float().cpu().numpy() for k, v in inputs.items()}
        return [torch.from_numpy(o) for o in self.sessions[graph].run(None, feed)]

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if lengths is not None and bool((lengths != x.shape[1]).any()):
            raise ActrecError("an exported head scores windows of equal length only")
        return self._run("head", windows=x)[0]

    def step(self, z: torch.Tensor, state: torch.Tensor | None = None):
        if state is None:
            state = torch.zeros(self.config["layers"], len(z), self.config["hidden"])
        out, new = self._run("step", z=z, state=state)
        return out, new

    def pool_classify(self, outs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self._run("pool", outs=outs)[0]


def _manifest(model: str | Path) -> dict | None:
    """The export's manifest, None when there is none; a stale one is one clear error."""
    where = paths(model)
    if not where["manifest"].is_file():
        return None
    manifest = json.loads(where["manifest"].read_text())
    if manifest["bundle_sha256"] != bundle_hash(model):
        raise ActrecError(f"the export of {model} is stale (the model changed since it was "
                          f"exported): run 'actrec export {model}' again")  # fmt: skip
    return manifest


def _runtimes(manifest: dict) -> list[str]:
    """What an export can run in (exports made before OpenVINO: ONNX Runtime only)."""
    return manifest.get("runtimes", ["onnx"])


def exported_runtimes(model: str | Path) -> list[str]:
    """The runtimes a current export of `model` covers ([] when there is none, or it is stale)."""
    try:
        manifest = _manifest(model)
    except ActrecError:
        return []
    return _runtimes(manifest) if manifest else []


def resolve_runtime(model: str | Path, runtime: str, echo=print) -> str:
    """`auto` → the fastest runtime installed here that the model's export covers (torch when
    there is no export), said in one line; any other name as it is."""
    if runtime != "auto":
        return runtime
    have = exported_runtimes(model)  # stale: torch, and the line says so
    chosen = next(r for r in FASTEST if r == "torch" or (r in have and runtime_installed(r)))
    why = "no current export: 'actrec export MODEL' for a faster one" if not have else (
        f"the fastest installed of {', '.join(have + ['torch'])}")  # fmt: skip
    echo(f"runtime: {chosen} ({why})")
    return chosen


def use_runtime(model: str | Path, runtime: str, head, source: Backbone | People, echo=print):
    """Put `runtime` behind `source` and `head` (torch: nothing changes) → the head to use; a
    missing runtime, a missing or stale export is one clear error."""
    runtime = resolve_runtime(model, runtime, echo)
    if runtime == "torch":
        return head
    need_runtime(runtime)
    manifest = _manifest(model)
    if manifest is None:
        raise ActrecError(f"no export of {model}: run 'actrec export {model}' first")
    if runtime not in _runtimes(manifest):
        raise ActrecError(f"the export of {model} has no {runtime} model: run 'actrec export "
                          f"{model} format={runtime}'")  # fmt: skip
    where = paths(model)
    if isinstance(source, People):
        source.use_runtime(runtime, where[f"pose_{runtime}"])
    elif "backbone" in manifest["graphs"]:
        source.use_runtime(graph_embed(where["backbone"], runtime))
    return GraphHead(head, where, manifest["graphs"], runtime)


@dataclass
class LoadedModel:
    """A bundle with its head and feature source, loaded once for `predict` and `live`; `key`
    is what shaped the loading (device, runtime, people_imgsz)."""

    model: str
    bundle: dict
    head: nn.Module
    source: Backbone | People
    key: tuple


def load_model(model: str | Path, device: str = "auto", runtime: str = "torch",
               people_imgsz: int | None = None, echo=print) -> LoadedModel:  # fmt: skip
    """The bundle at `model` ('builtin': the shipped one), its source on `device` (the person
    stream's detection size `people_imgsz`), its networks in `runtime`."""
    bundle = load_bundle(model)
    people = {"imgsz": people_imgsz} if people_imgsz else {}
    source = source_for_bundle(bundle, device, **people)
    head = use_runtime(model, runtime, head_from_bundle(bundle), source, echo)
    return LoadedModel(str(model), bundle, head, source, (device, runtime, people_imgsz))
