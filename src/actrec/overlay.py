"""Drawing on frames and showing them: labels, confidence bars, people's boxes, the status line,
the live window's display and its recording (OpenCV).

A leaf that `predict` (annotated videos) and `live` (the window and its recording) share.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cv2
import numpy as np


def label_at(t: float, rows: list[dict]) -> dict:
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


PERSON, ALERT = (0, 200, 255), (0, 0, 255)  # BGR: a person's box; an event alert's


def draw_person(frame: np.ndarray, box, text: str, colour: tuple = PERSON) -> None:
    """A person's box with `text` (id, label, score) above it, on a BGR frame (in place)."""
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    scale = max(0.4, frame.shape[1] / 1280)
    cv2.rectangle(frame, (x1, y1), (x2, y2), colour, max(2, int(3 * scale)))
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, 1)
    top = max(th + 4, y1)
    cv2.rectangle(frame, (x1, top - th - 4), (x1 + tw + 4, top), colour, -1)
    cv2.putText(frame, text, (x1 + 2, top - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale,
                (0, 0, 0), 1, cv2.LINE_AA)  # fmt: skip


def people_at(t: float, people: list[dict], fps: float) -> list[tuple[list, str]]:
    """(box, text) of each person seen within one sampled frame of `t`."""
    out = []
    for p in people:
        if not p["start_s"] - 1 / fps <= t <= p["end_s"]:
            continue
        at, box = min(p["frames"], key=lambda f: abs(f[0] - t))
        if abs(at - t) <= 1 / fps:
            row = label_at(t, p["timeline"])
            text = f"{p['id']} {row['label']} {row['score']:.2f}"
            out.append((box, text + reps_at(t, p.get("reps", []))))
    return out


def reps_at(t: float, sets: list[dict]) -> str:
    """The running count at `t` of the set under way (' | 3 reps'), or ''."""
    for s in sets:
        if s["start_s"] <= t <= s["end_s"] + 2.0:  # held a moment after the last rep
            return f" | {sum(x <= t for x in s['rep_times_s'])} reps"
    return ""


def qt_fonts() -> None:
    """OpenCV's wheel points Qt at a font folder it does not ship; use the system's instead."""
    if Path(os.environ.get("QT_QPA_FONTDIR", "")).is_dir():
        return
    for d in ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype", "/usr/share/fonts"):
        if Path(d).is_dir():
            os.environ["QT_QPA_FONTDIR"] = d  # read when the first window opens
            return


def has_display() -> bool:
    return sys.platform in ("win32", "darwin") or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


class VideoOut:
    """Annotated frames → an mp4 at `path`, on the source's clock: a dropped frame repeats the
    last one. (`predict` writes it through `outputs.atomic_path`; `live`'s `recording`
    under a `.part` name renamed when complete.)"""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        self.fps = fps
        self.writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        self.count, self.last = 0, None

    def write(self, bgr: np.ndarray, t: float) -> None:
        while self.last is not None and self.count < round(t * self.fps):
            self.writer.write(self.last)
            self.count += 1
        self.writer.write(bgr)
        self.count, self.last = self.count + 1, bgr

    def close(self) -> None:
        self.writer.release()
