"""Labelling a video file: bundle + video → clip label, probabilities and a timeline.

A leaf of the flow (after `head`; no Lightning). The video's features come from
`features.video_features` (decoded in bounded chunks, so memory does not grow with its length);
`head` cuts them into windows of the training length every `stride` seconds, scores them and
labels the clip by the mean of its windows. `out=` writes the video again with the current
window's label drawn on each frame.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from actrec.cache import atomic_path
from actrec.config import PredictOptions
from actrec.errors import ActrecError
from actrec.features import video_features
from actrec.head import (
    backbone_for_bundle,
    head_from_bundle,
    load_bundle,
    score_windows,
    stride_steps,
    video_label,
    window_starts,
)
from actrec.video import open_video


def write_json(path: str | Path, result: dict) -> None:
    with atomic_path(path, hidden=False) as tmp:
        tmp.write_text(json.dumps(result, indent=1, ensure_ascii=False))


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


def _check_video(video: str | Path) -> None:
    """Fail before the backbone loads: a missing path or a folder is not a video."""
    p = Path(video)
    if p.is_dir():
        raise ActrecError(f"{p} is a folder, not a video file (evaluate takes datasets)")
    if not p.is_file():
        raise ActrecError(f"video not found: {p}")


def predict_video(model: str | Path, video: str | Path, opts: PredictOptions | None = None) -> dict:
    """Label `video` with the bundle at `model`; optionally write the annotated video / JSON."""
    opts = opts or PredictOptions()
    bundle = load_bundle(model)
    _check_video(video)
    head = head_from_bundle(bundle)
    backbone = backbone_for_bundle(bundle, opts.device)
    s, classes = bundle["sample"], bundle["classes"]
    v = video_features(str(video), backbone, s["fps"], progress=opts.progress)
    stride = stride_steps(opts.stride or bundle["predict"]["stride"], s["fps"])
    starts = window_starts(len(v.feats), s["window"], stride)
    probs = score_windows(head, v.feats, s["window"], starts)  # (W, C)
    mean = video_label(probs)
    top = int(mean.argmax())
    result = dict(
        video=str(video), label=classes[top], score=round(float(mean[top]), 4),
        probabilities={c: round(float(p), 4) for c, p in zip(classes, mean, strict=True)},
        duration_s=round(v.duration, 3), fps_sampled=s["fps"], window_s=s["window"] / s["fps"],
        timeline=timeline(probs, starts, s["window"], v.times, v.duration, classes),
        backbone=bundle["backbone"]["fingerprint"], warning=bundle["backbone"]["warning"],
    )  # fmt: skip
    if opts.json:
        write_json(opts.json, result)
    if opts.out:
        annotate(str(video), result["timeline"], Path(opts.out))
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
    with open_video(video) as src, atomic_path(out, hidden=False) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), src.fps, src.size)
        try:
            for c in src.chunks(None, None, 32):
                for rgb, t in zip(c.frames, c.times, strict=True):
                    frame = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
                    row = _label_at(float(t), rows)
                    draw_label(frame, row["label"], row["score"])
                    writer.write(frame)
        finally:
            writer.release()
