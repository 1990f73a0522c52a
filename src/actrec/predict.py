"""Labelling a video file: bundle + video → clip label, probabilities and a timeline.

A leaf of the flow (after `model`). The video is decoded in bounded chunks, so memory does not
grow with its length; the head scores sliding windows of the training length, every `stride`
seconds, whose union covers the whole video; the clip label averages the windows. `out=` writes
the video again with the current window's label drawn on each frame.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader

from actrec.backbone import Backbone
from actrec.errors import ActrecError
from actrec.extract import ChunkStream
from actrec.model import backbone_for_bundle, head_from_bundle, load_bundle
from actrec.video import open_video


def video_features(path: str, backbone: Backbone, fps: float, chunk: int = 32, workers: int = 1):
    """→ features (T, D), sample times (T,), duration in seconds.

    A DataLoader worker decodes the next chunk while the backbone runs on this one, as in
    `extract`; memory holds a few chunks, whatever the video's length.
    """
    stream = ChunkStream([str(path)], fps, backbone.settings.imgsz, chunk)
    loader = DataLoader(stream, batch_size=None, num_workers=workers,
                        prefetch_factor=2 if workers else None)  # fmt: skip
    parts, times, duration = [], [], None
    for item in loader:
        if "error" in item:
            raise ActrecError(item["error"])
        if item["last"]:
            duration = item["duration"]
            break
        prev = None if item["prev"] is None else np.asarray(item["prev"])
        parts.append(backbone.features(np.asarray(item["frames"]), prev))  # (N, D)
        times.append(np.asarray(item["times"]))
    if not parts:  # opened, but not one frame came out
        raise ActrecError(f"cannot decode {path}: no frames")
    times = np.concatenate(times)
    if duration is None:  # a stream-like file that does not say how many frames it has
        duration = float(times[-1]) + 1 / fps
    return np.concatenate(parts), times, duration


def _write_json(path: Path, result: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=1))
    except OSError as e:
        raise ActrecError(f"cannot write {path}: {e.strerror}") from None


def window_starts(steps: int, window: int, stride: int) -> list[int]:
    """Starts of `window`-long windows every `stride` steps; the last one ends at `steps`.

    A stride longer than the window is shortened to it, so no stretch of video goes unlabelled.
    """
    if steps <= window:
        return [0]
    starts = list(range(0, steps - window + 1, min(max(1, stride), window)))
    if starts[-1] != steps - window:
        starts.append(steps - window)
    return starts


@torch.inference_mode()
def score_windows(head, feats: np.ndarray, window: int, starts: list[int]) -> np.ndarray:
    """(T, D) features → (W, C) probabilities, one row per window."""
    x = torch.from_numpy(np.stack([feats[s : s + window] for s in starts]).astype(np.float32))
    return torch.softmax(head(x), -1).numpy()  # (W, C)


def timeline(probs: np.ndarray, starts, window, times, duration, classes) -> list[dict]:
    """Window rows: start_s/end_s span the sampled frames, the last window reaching the end."""
    step = float(np.median(np.diff(times))) if len(times) > 1 else duration
    rows = []
    for k, (s, p) in enumerate(zip(starts, probs, strict=True)):
        e = min(s + window, len(times)) - 1
        end = duration if k == len(starts) - 1 else min(duration, float(times[e]) + step)
        top = int(p.argmax())
        rows.append(
            dict(start_s=round(float(times[s]) if k else 0.0, 3), end_s=round(end, 3),
                 label=classes[top], score=round(float(p[top]), 4))
        )  # fmt: skip
    return rows


def predict_video(
    model: str | Path,
    video: str | Path,
    out: str | Path | None = None,
    json_path: str | Path | None = None,
    stride: float | None = None,
    device: str | None = None,
) -> dict:
    """Label `video` with the bundle at `model`; optionally write the annotated video / JSON."""
    bundle = load_bundle(model)
    head = head_from_bundle(bundle)
    backbone = backbone_for_bundle(bundle, device)
    s = bundle["sample"]
    feats, times, duration = video_features(str(video), backbone, s["fps"], s["chunk"])
    stride_s = stride if stride is not None else bundle["predict"]["stride"]
    starts = window_starts(len(feats), s["window"], round(stride_s * s["fps"]))
    probs = score_windows(head, feats, s["window"], starts)
    classes = bundle["classes"]
    mean = probs.mean(0)
    top = int(mean.argmax())
    result = dict(
        video=str(video), label=classes[top], score=round(float(mean[top]), 4),
        probabilities={c: round(float(p), 4) for c, p in zip(classes, mean, strict=True)},
        duration_s=round(duration, 3), fps_sampled=s["fps"], window_s=s["window"] / s["fps"],
        timeline=timeline(probs, starts, s["window"], times, duration, classes),
        backbone=bundle["backbone"]["fingerprint"], warning=bundle["backbone"]["warning"],
    )  # fmt: skip
    if json_path:
        _write_json(Path(json_path), result)
    if out:
        annotate(str(video), result["timeline"], Path(out))
    return result


def _label_at(t: float, rows: list[dict]) -> dict:
    """The window whose centre is nearest to `t`."""
    return min(rows, key=lambda r: abs((r["start_s"] + r["end_s"]) / 2 - t))


def draw_label(frame: np.ndarray, text: str, score: float) -> None:
    """Label and a confidence bar in the top-left corner of a BGR frame (in place)."""
    h, w = frame.shape[:2]
    scale = max(0.4, w / 640)
    th = int(28 * scale)
    cv2.rectangle(frame, (0, 0), (w, th + 6), (0, 0, 0), -1)
    cv2.rectangle(frame, (0, th + 2), (int(w * score), th + 6), (0, 200, 0), -1)
    cv2.putText(frame, f"{text} {score:.2f}", (6, th - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.8 * scale,
                (255, 255, 255), max(1, int(2 * scale)), cv2.LINE_AA)  # fmt: skip


def annotate(video: str, rows: list[dict], out: Path) -> None:
    """Re-decode `video` at its own rate and write it with the current label drawn on it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + ".part" + out.suffix)
    with open_video(video) as src:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), src.fps, src.size)
        for c in src.chunks(None, None, 32):
            for rgb, t in zip(c.frames, c.times, strict=True):
                frame = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
                row = _label_at(float(t), rows)
                draw_label(frame, row["label"], row["score"])
                writer.write(frame)
        writer.release()
    tmp.replace(out)
