"""Labelling a video file: bundle + video → clip label, probabilities and a timeline.

A leaf of the flow (after `head`; no Lightning). The video's features come from
`features.video_features` (decoded in bounded chunks, so memory does not grow with its length);
`head` cuts them into windows of the training length every `stride` seconds, scores them and
labels the clip by the mean of its windows. `out=` writes the video again with the current
window's label drawn on each frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from actrec.bundle import threshold_for
from actrec.errors import ActrecError
from actrec.events import (
    Body,
    confirmed,
    down_after,
    find_events,
    merge_falls,
    physical_falls,
)
from actrec.features import VideoFeatures, video_features
from actrec.head import UNSURE, label_name, score_windows, stride_steps, video_label, window_starts
from actrec.options import PredictOptions
from actrec.outputs import atomic_path, check_writable
from actrec.overlay import draw_label, draw_person, label_at, people_at
from actrec.pose import VISIBLE, seen_share
from actrec.reps import SURE, exercises_for, rep_sets
from actrec.results import Result
from actrec.runtime import LoadedModel, load_model
from actrec.video import open_video

NOBODY = "nobody"  # a person model's clip label where nobody was found


@dataclass
class Labeller:
    """Labels a sequence (a video's or a person's): the head scores windows of `window` steps
    every `stride` steps; a clip is the mean of its windows. Below `threshold`, or (person
    models, `parts` given) where under MIN_SEEN of the joints are seen, the label is '…'."""

    head: torch.nn.Module
    classes: list[str]
    window: int
    stride: int
    threshold: float = 0.0
    parts: tuple[str, ...] | None = None

    def name(self, p: np.ndarray, seen: float | None) -> str:
        return label_name(self.classes, p, self.threshold, seen)

    def __call__(self, feats: np.ndarray, times: np.ndarray, start: float, end: float) -> dict:
        """→ label, score, probabilities and the timeline; `start`/`end`: the sequence's first
        and last moment (the first window starts at one, the last reaches the other)."""
        return self.score(feats, times, start, end)[0]

    def score(self, feats: np.ndarray, times: np.ndarray, start: float, end: float
              ) -> tuple[dict, np.ndarray, np.ndarray]:  # fmt: skip
        """As calling it, with each window's probabilities (W, C) and span (W, 2) seconds."""
        starts = window_starts(len(feats), self.window, self.stride)
        probs = score_windows(self.head, feats, self.window, starts)  # (W, C)
        seen = seen_share(feats, self.parts) if self.parts else None  # (T,) or None
        at = lambda a, b: None if seen is None else float(seen[a:b].mean())  # noqa: E731
        mean = video_label(probs)
        rows = timeline(probs, starts, self.window, times, end, start)
        for row, s, p in zip(rows, starts, probs, strict=True):
            row["label"] = self.name(p, at(s, s + self.window))
        span = np.array([[r["start_s"], r["end_s"]] for r in rows])  # (W, 2) seconds
        return dict(
            label=self.name(mean, at(0, len(feats))), score=round(float(mean.max()), 4),
            probabilities={c: round(float(p), 4) for c, p in zip(self.classes, mean, strict=True)},
            timeline=rows,
            events=find_events(probs, span[:, 0], span[:, 1], self.classes, self.threshold),
        ), probs, span  # fmt: skip


def timeline(probs: np.ndarray, starts, window, times, end: float, start: float = 0.0):
    """Window rows (label filled in by `Labeller`): start_s/end_s span the sampled frames, the
    first window starting at `start` and the last one reaching `end`."""
    step = float(np.median(np.diff(times))) if len(times) > 1 else end - start
    rows = []
    for k, (s, p) in enumerate(zip(starts, probs, strict=True)):
        e = min(s + window, len(times)) - 1
        stop = end if k == len(starts) - 1 else min(end, float(times[e]) + step)
        rows.append(dict(start_s=round(float(times[s]) if k else start, 3), end_s=round(stop, 3),
                         label="", score=round(float(p.max()), 4)))  # fmt: skip
    return rows


def _person(track: dict, label: Labeller, fps: float, falls: str, video_end: float,
            exercises: tuple[str, ...] = ()) -> dict:  # fmt: skip
    """One track → its label, timeline and events; a model that knows falls also finds them on
    the body itself (`falls`: head, body or both) and says how long the person stayed down;
    where their windows are one of `exercises`, the reps (`reps.rep_sets`)."""
    t = track["times"]
    start, end = float(t[0]), float(t[-1]) + 1 / fps
    seq, probs, span = label.score(track["feats"], t, start, end)
    del seq["probabilities"]
    if "falling" in label.classes:
        body = Body.of(t, track["xy"], track["conf"], track["boxes"], VISIBLE)
        learned = [e for e in seq["events"] if falls != "body" or e["label"] != "falling"]
        seen = physical_falls(body) if falls != "head" else []
        if falls == "both":  # the body's drop, where the head sees a fall or someone lying
            seen = confirmed(seen, probs, span, label.classes)
        seq["events"] = merge_falls(learned, seen)
        for e in seq["events"]:
            if e["label"] == "falling":
                e["down_s"], e["got_up"] = down_after(body, e, video_end)
    tops = [label.classes[k] for k in probs.argmax(1)]  # under '…' too: a set's unsure windows
    sure = [w["label"] if p >= SURE else UNSURE for w, p in zip(seq["timeline"], probs.max(1),
                                                                strict=True)]  # fmt: skip
    seq["reps"] = rep_sets(track, tops, span, fps, exercises, sure) if exercises else []
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


def check_video(video: str | Path) -> str:
    """→ the video as a string (a URL kept whole: `Path` would fold its `//`); a missing path
    or a folder fails here, before anything is decoded."""
    video = str(video)
    if "://" in video:  # a stream or a remote file: the decoder says if it cannot open it
        return video
    p = Path(video)
    if p.is_dir():
        raise ActrecError(f"{p} is a folder, not a video file (Model.predict takes folders)")
    if not p.is_file():
        raise ActrecError(f"video not found: {p}")
    return video


class Predictor:
    """A loaded model labelling one video per call (stride, threshold and outputs may change
    from call to call). A person-stream model labels every
    tracked person (`people`, main actor first); the clip's label is its main actor's.
    """

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded

    def __call__(self, video: str | Path, opts: PredictOptions | None = None) -> Result:
        """Label `video` (a file or a stream URL); write `opts.json` / `opts.out` if asked.
        ActrecError when it cannot be read."""
        opts = opts or PredictOptions()
        check_outputs(opts)
        video = check_video(video)
        fps = self.loaded.bundle["sample"]["fps"]
        v = video_features(video, self.loaded.source, fps, progress=opts.progress, nobody_ok=True)
        return self.label(v, opts)

    def label(self, v: VideoFeatures, opts: PredictOptions) -> Result:
        """A video's features (`features.video_features`: fresh, or kept by a benchmark that
        labels the same clips with many models) → its Result; the outputs asked for written."""
        bundle, source, video = self.loaded.bundle, self.loaded.source, v.path
        s = bundle["sample"]
        if v.nobody:  # an empty scene is an answer: a script over a folder of CCTV clips goes on
            return _finish(_nobody(video, v, bundle), video, opts)
        stride = stride_steps(opts.stride or bundle["predict"]["stride"], s["fps"])
        threshold = threshold_for(bundle, opts.threshold)
        parts = tuple(source.settings.parts) if v.tracks else None
        label = Labeller(self.loaded.head, bundle["classes"], s["window"], stride, threshold, parts)
        # the clip's sequence: the whole video, or (person models) its main actor's time on screen
        start, end = (float(v.times[0]), float(v.times[-1]) + 1 / s["fps"]) if v.tracks else (
            0.0, v.duration)  # fmt: skip
        result = dict(
            video=video, duration_s=round(v.duration, 3), fps_sampled=s["fps"],
            window_s=s["window"] / s["fps"], **label(v.feats, v.times, start, end),
            **_about(bundle),
        )  # fmt: skip
        if v.tracks:
            counted = exercises_for(bundle) if opts.reps else ()
            result["people"] = [_person(t, label, s["fps"], opts.falls, v.duration, counted)
                                for t in v.tracks]  # fmt: skip
            # the clip's events are every person's ("person 3 fell at 12.4 s"), in time order
            events = [{"id": p["id"], **e} for p in result["people"] for e in p["events"]]
            result["events"] = sorted(events, key=lambda e: e["start_s"])
            sets = [{**r, "id": p["id"]} for p in result["people"] for r in p["reps"]]
            result["reps"] = sorted(sets, key=lambda r: r["start_s"])
            result["hint"] = _size_hint(v.tracks, source)
        return _finish(result, video, opts)


def predict_video(
    model: str | Path, video: str | Path, opts: PredictOptions | None = None, echo=print
) -> dict:
    """One video with a model loaded for it alone, as a plain dict (`Result.to_dict`)."""
    opts = opts or PredictOptions()
    check_outputs(opts)
    loaded = load_model(model, opts.device, opts.runtime, opts.people_imgsz, echo)
    return Predictor(loaded)(video, opts).to_dict()


def check_outputs(opts: PredictOptions) -> None:
    """The files asked for can be written: checked before anything loads or decodes."""
    for path, what in ((opts.json, "json="), (opts.out, "out=")):
        if path:
            check_writable(path, what)


def _nobody(video: str, v, bundle: dict) -> dict:
    """The answer for a person model where nobody was found: no windows, no people, and why."""
    s = bundle["sample"]
    return dict(video=video, duration_s=round(v.duration, 3), fps_sampled=s["fps"],
                window_s=s["window"] / s["fps"], label=NOBODY, score=0.0, probabilities={},
                timeline=[], events=[], people=[], hint=v.error.removeprefix(f"{video}: "),
                **_about(bundle))  # fmt: skip


def _about(bundle: dict) -> dict:
    return dict(backbone=bundle["backbone"]["fingerprint"], warning=bundle["backbone"]["warning"])


def _finish(result: dict, video: str, opts: PredictOptions) -> Result:
    """Write what was asked for (JSON, annotated video); → the result."""
    r = Result.from_dict(result)
    if opts.json:
        r.save(opts.json)
    if opts.out:
        annotate(video, result, Path(opts.out))
    return r


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
                    row = label_at(float(t), rows) if rows else result  # nobody: no windows
                    draw_label(frame, row["label"], row["score"])
                    for box, text in people_at(float(t), people, result["fps_sampled"]):
                        draw_person(frame, box, text)  # over the clip's label: people first
                    writer.write(frame)
        finally:
            writer.release()
