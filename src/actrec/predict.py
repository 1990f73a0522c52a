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
    head_from_bundle,
    load_bundle,
    score_windows,
    source_for_bundle,
    stride_steps,
    video_label,
    window_starts,
)
from actrec.video import open_video


def write_json(path: str | Path, result: dict) -> None:
    with atomic_path(path, hidden=False) as tmp:
        tmp.write_text(json.dumps(result, indent=1, ensure_ascii=False))


def timeline(probs: np.ndarray, starts, window, times, end: float, classes, start: float = 0.0):
    """Window rows: start_s/end_s span the sampled frames, the first window starting at `start`
    and the last one reaching `end` (the video's, or a person's, first and last moment)."""
    step = float(np.median(np.diff(times))) if len(times) > 1 else end - start
    rows = []
    for k, (s, p) in enumerate(zip(starts, probs, strict=True)):
        e = min(s + window, len(times)) - 1
        stop = end if k == len(starts) - 1 else min(end, float(times[e]) + step)
        top = int(p.argmax())
        rows.append(
            dict(start_s=round(float(times[s]) if k else start, 3), end_s=round(stop, 3),
                 label=classes[top], score=round(float(p[top]), 4))
        )  # fmt: skip
    return rows


def label_sequence(head, feats, times, start, end, window, stride, classes) -> dict:
    """One sequence (a video's or a person's) → its label, score, probabilities and timeline."""
    starts = window_starts(len(feats), window, stride)
    probs = score_windows(head, feats, window, starts)  # (W, C)
    mean = video_label(probs)
    top = int(mean.argmax())
    return dict(
        label=classes[top], score=round(float(mean[top]), 4),
        probabilities={c: round(float(p), 4) for c, p in zip(classes, mean, strict=True)},
        timeline=timeline(probs, starts, window, times, end, classes, start),
    )  # fmt: skip


def _person(track: dict, head, window: int, stride: int, fps: float, classes) -> dict:
    t = track["times"]
    start, end = float(t[0]), float(t[-1]) + 1 / fps
    seq = label_sequence(head, track["feats"], t, start, end, window, stride, classes)
    del seq["probabilities"]
    frames = [[round(float(x), 3), [round(float(v), 1) for v in b]]
              for x, b in zip(t, track["boxes"], strict=True)]  # fmt: skip
    return dict(id=int(track["id"]), start_s=round(start, 3), end_s=round(end, 3), **seq,
                frames=frames)  # fmt: skip


SMALL_PERSON_PX = 48  # median person height at detection size below which keypoints get poor


def _size_hint(tracks: list[dict], people) -> str:
    """A suggestion when the people found are small at the detection size ('' otherwise)."""
    imgsz = people.settings.imgsz
    px = float(np.median([t["height_px"] for t in tracks]))
    if px >= SMALL_PERSON_PX or imgsz >= 960:
        return ""
    return (f"people are small at detection size {imgsz} (median {px:.0f} px tall): "
            f"people_imgsz={min(960, imgsz * 2)} would find more of them")  # fmt: skip


def _check_video(video: str | Path) -> None:
    """Fail before the backbone loads: a missing path or a folder is not a video."""
    p = Path(video)
    if p.is_dir():
        raise ActrecError(f"{p} is a folder, not a video file (evaluate takes datasets)")
    if not p.is_file():
        raise ActrecError(f"video not found: {p}")


def predict_video(model: str | Path, video: str | Path, opts: PredictOptions | None = None) -> dict:
    """Label `video` with the bundle at `model`; optionally write the annotated video / JSON.

    A person-stream model labels every tracked person (`people`, main actor first); the clip's
    label is its main actor's.
    """
    opts = opts or PredictOptions()
    bundle = load_bundle(model)
    _check_video(video)
    head = head_from_bundle(bundle)
    people = {"imgsz": opts.people_imgsz} if opts.people_imgsz else {}
    source = source_for_bundle(bundle, opts.device, **people)
    s, classes = bundle["sample"], bundle["classes"]
    v = video_features(str(video), source, s["fps"], progress=opts.progress)
    stride = stride_steps(opts.stride or bundle["predict"]["stride"], s["fps"])
    # the clip's sequence: the whole video, or (person models) its main actor's time on screen
    start, end = (float(v.times[0]), float(v.times[-1]) + 1 / s["fps"]) if v.tracks else (0.0,
                  v.duration)  # fmt: skip
    result = dict(
        video=str(video), duration_s=round(v.duration, 3), fps_sampled=s["fps"],
        window_s=s["window"] / s["fps"],
        **label_sequence(head, v.feats, v.times, start, end, s["window"], stride, classes),
        backbone=bundle["backbone"]["fingerprint"], warning=bundle["backbone"]["warning"],
    )  # fmt: skip
    if v.tracks:
        result["people"] = [_person(t, head, s["window"], stride, s["fps"], classes)
                            for t in v.tracks]  # fmt: skip
        result["hint"] = _size_hint(v.tracks, source)
    if opts.json:
        write_json(opts.json, result)
    if opts.out:
        annotate(str(video), result, Path(opts.out))
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


def draw_overlay(bgr: np.ndarray, shown: tuple, fps: float, latency: float, info: str) -> None:
    """Smoothed label and bar, the top-k below it, measured FPS and label latency at the bottom."""
    label, score, top = shown
    draw_label(bgr, label, score)
    h, w = bgr.shape[:2]
    scale = max(0.35, w / 900)
    y = int(34 * max(0.4, w / 640)) + 4
    for name, p in top[1:]:
        y += int(22 * scale) + 2
        cv2.putText(bgr, f"{name} {p:.2f}", (6, y), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale,
                    (255, 255, 255), 1, cv2.LINE_AA)  # fmt: skip
    text = f"{fps:.1f} FPS  latency {latency * 1000:.0f} ms  {info}"
    cv2.rectangle(bgr, (0, h - int(24 * scale) - 6), (w, h), (0, 0, 0), -1)
    cv2.putText(bgr, text, (6, h - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, (0, 255, 255), 1,
                cv2.LINE_AA)  # fmt: skip


def draw_person(frame: np.ndarray, box, text: str) -> None:
    """A person's box with `text` (id, label, score) above it, on a BGR frame (in place)."""
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    scale = max(0.4, frame.shape[1] / 1280)
    cv2.rectangle(frame, (x1, y1), (x2, y2), (0, 200, 255), max(2, int(3 * scale)))
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, 1)
    top = max(th + 4, y1)
    cv2.rectangle(frame, (x1, top - th - 4), (x1 + tw + 4, top), (0, 200, 255), -1)
    cv2.putText(frame, text, (x1 + 2, top - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale,
                (0, 0, 0), 1, cv2.LINE_AA)  # fmt: skip


def _people_at(t: float, people: list[dict], fps: float) -> list[tuple[list, str]]:
    """(box, text) of each person seen within one sampled frame of `t`."""
    out = []
    for p in people:
        if not p["start_s"] - 1 / fps <= t <= p["end_s"]:
            continue
        at, box = min(p["frames"], key=lambda f: abs(f[0] - t))
        if abs(at - t) <= 1 / fps:
            row = _label_at(t, p["timeline"])
            out.append((box, f"{p['id']} {row['label']} {row['score']:.2f}"))
    return out


def annotate(video: str, result: dict, out: Path) -> None:
    """Re-decode `video` at its own rate and write it with the current label drawn on it, and
    each tracked person's box, id, label and score."""
    rows, people = result["timeline"], result.get("people", [])
    with open_video(video) as src, atomic_path(out, hidden=False) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), src.fps, src.size)
        try:
            for c in src.chunks(None, None, 32):
                for rgb, t in zip(c.frames, c.times, strict=True):
                    frame = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
                    row = _label_at(float(t), rows)
                    draw_label(frame, row["label"], row["score"])
                    for box, text in _people_at(float(t), people, result["fps_sampled"]):
                        draw_person(frame, box, text)  # over the clip's label: people first
                    writer.write(frame)
        finally:
            writer.release()
