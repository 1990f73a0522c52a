"""Live labelling: camera, stream or file → newest frame → one backbone pass + one GRU step → label.

A leaf of the flow (after `model`, beside `predict`). Capture runs in its own thread and keeps only
the newest frame, so when inference is slower than the camera old frames are dropped, never
queued, and the delay never grows. The head was trained on frames sampled at the bundle's fps;
a camera delivers more, so frames are dealt in turn to `lanes` (a 30 fps camera and a 10 fps model
give 3 lanes), each a proper 10 fps sequence with its own motion input, normalisation statistics
and GRU state: every frame costs one backbone pass and one GRU step, and the label updates at the
camera's rate. `mode=window` re-scores the last `window` features instead, exactly as `predict`.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections import deque
from collections.abc import Generator, Iterator
from contextlib import ExitStack
from pathlib import Path

import cv2
import numpy as np
import torch

from actrec.bundle import threshold_for
from actrec.capture import Grabber
from actrec.errors import ActrecError
from actrec.events import Alerts
from actrec.head import UNSURE, GRUHead, label_name, score_windows
from actrec.options import LiveOptions
from actrec.overlay import ALERT, draw_overlay, draw_person, has_display, qt_fonts
from actrec.people import People, PersonStream
from actrec.pose import TRAVEL_STEPS, pose_features, seen_share
from actrec.recording import Recorder
from actrec.runtime import LoadedModel, load_model
from actrec.streaming import Scorer, lane_count
from actrec.video import fit_size, resize

log = logging.getLogger("actrec")


class Smoother:
    """Moving average of the last `n` probability vectors, hidden below `threshold`."""

    def __init__(self, classes: list[str], n: int = 5, threshold: float = 0.4, topk: int = 3):
        self.classes, self.threshold, self.topk = classes, threshold, topk
        self.recent: deque[np.ndarray] = deque(maxlen=max(1, n))

    def __call__(
        self, probs: np.ndarray, seen: float | None = None
    ) -> tuple[str, float, list[tuple[str, float]]]:
        """→ (shown label or "…", its score, top-k (label, score) pairs); `seen`: the share of
        a person's joints seen (person models), the rule `predict` applies too."""
        self.recent.append(probs)
        mean = np.mean(self.recent, 0)
        order = np.argsort(-mean)[: self.topk]
        top = [(self.classes[i], float(mean[i])) for i in order]
        return label_name(self.classes, mean, self.threshold, seen), top[0][1], top


class PersonScorer:
    """Person-stream models: every frame the CPU keeps up with goes through the pose model and
    the tracker (the tracker must see frames in order, so there are no lanes); each tracked
    person keeps their last window of frames, resampled to the model's fps as in `predict`, and
    their own smoother: created when the track appears, dropped once it has been lost for
    `LOST_S`. A person's label scores their last window as `predict` scores a person's."""

    LOST_S = 3.0

    def __init__(
        self, head: GRUHead, people: People, window: int, fps: float, smoother, feed_fps: float
    ) -> None:
        self.head, self.window, self.fps, self.new_smoother = head, window, fps, smoother
        self.stream = PersonStream(people, fps, feed_fps)
        self.size = people.settings.imgsz
        self.smooth: dict[int, Smoother] = {}
        self.fed: deque[float] = deque(maxlen=30)  # media times of the last frames pushed
        self.alerts = Alerts(quiet_s=window / fps)  # one-off actions: one alert per event
        self.fired: list[dict] = []  # the events of the last call

    def small(self, rgb: np.ndarray) -> tuple[np.ndarray, float]:
        """A frame at the detection size (long side), and source pixels per small pixel."""
        size = fit_size(rgb.shape[1::-1], self.size)
        return resize(rgb, size), rgb.shape[1] / size[0]  # as predict decodes and scales

    def warm_up(self, size: tuple[int, int]) -> None:
        """Run the pose model and the head once on a blank frame of the source's `size` (w, h),
        outside the tracker, so the first real frame pays no set-up."""
        small, _ = self.small(np.zeros((size[1], size[0], 3), np.uint8))
        self.stream.people.detect(small[None])
        dim = self.stream.people.feature_dim
        score_windows(self.head, np.zeros((self.window, dim), np.float32), self.window, [0])

    @torch.inference_mode()
    def __call__(self, rgb: np.ndarray, t: float) -> list[tuple[int, list[float], tuple]]:
        """A full-size RGB frame → (id, box, shown label) per person in it, largest first."""
        self.fed.append(t)
        if len(self.fed) >= 10:  # frames dropped when the CPU falls behind: the tracker's clock
            self.stream.feed_rate((len(self.fed) - 1) / max(self.fed[-1] - self.fed[0], 1e-3))
        small, scale = self.small(rgb)
        ids = self.stream(small[None], np.array([t]), scale)
        tracks = self.stream.tracks
        for tid in [i for i, tr in tracks.items() if t - tr.times[-1] > self.LOST_S]:
            del tracks[tid]  # lost for good: its memory goes
            self.smooth.pop(tid, None)
            self.alerts.forget(tid)
        out = []
        for tid in ids:
            tr = tracks[tid]
            # the last window, and the second before it that its first steps' travel looks at
            span = (self.window + TRAVEL_STEPS) / self.fps
            tr.keep_last(sum(x >= t - span for x in tr.times))  # bounded memory
            a = tr.arrays(self.fps)
            parts = self.stream.people.settings.parts
            feats = pose_features(a["xy"], a["conf"], a["boxes"], parts, a.get("roi"))[
                -self.window :
            ]
            probs = score_windows(self.head, feats, self.window, [0])[0]
            seen = seen_share(feats, parts)
            shown = self.smooth.setdefault(tid, self.new_smoother())(
                probs, None if seen is None else float(seen.mean())
            )
            out.append((tid, [round(float(v), 1) for v in tr.boxes[-1]], shown))
        self.fired = [e for tid, _, sh in out if (e := self.alerts(tid, t, sh[0], sh[1]))]
        return sorted(out, key=lambda p: -(p[1][3] - p[1][1]))


class Tally:
    """What the summary needs, in memory that does not grow with the run (a watch lasts days):
    the count of labels, and a fixed-size uniform sample (reservoir) of their latencies and FPS
    for the median and quantiles."""

    SIZE = 4096

    def __init__(self) -> None:
        self.n = 0
        self.sample: list[tuple[float, float]] = []  # (latency ms, fps)
        self.rng = random.Random(0)

    def add(self, latency_ms: float, fps: float) -> None:
        self.n += 1
        if len(self.sample) < self.SIZE:
            self.sample.append((latency_ms, fps))
        elif (j := self.rng.randrange(self.n)) < self.SIZE:
            self.sample[j] = (latency_ms, fps)


def _summary(tally: Tally, grab: Grabber, shown: tuple, seconds: float) -> dict:
    lat = np.array([x for x, _ in tally.sample]) if tally.sample else np.zeros(1)
    fps = [f for _, f in tally.sample if f > 0]
    return dict(
        label=shown[0], score=round(shown[1], 4), labelled=tally.n, dropped=grab.dropped,
        seconds=round(seconds, 2), fps_median=round(float(np.median(fps)) if fps else 0.0, 2),
        latency_p50_ms=round(float(np.percentile(lat, 50)), 1),
        latency_p95_ms=round(float(np.percentile(lat, 95)), 1),
    )  # fmt: skip


def run_live(model: str | Path, opts: LiveOptions, echo=print) -> dict:
    """Label `opts.source` live until it ends, `duration` passes, q/Esc or Ctrl-C; → the
    summary (labelled frames, FPS, latency, dropped frames, events)."""
    loaded = load_model(model, opts.device, opts.runtime, echo=echo)
    return Watch(live_updates(loaded, opts, echo)).run()


class Watch:
    """A live run: iterate over it for one update per labelled frame (`live_updates`);
    `summary` holds the run's figures once it has ended. `run()` goes to the end at once."""

    def __init__(self, updates: Generator[dict, None, dict]) -> None:
        self.updates, self.summary = updates, None

    def __iter__(self) -> Iterator[dict]:
        self.summary = yield from self.updates

    def run(self) -> dict:
        for _ in self:
            pass
        return self.summary


def live_updates(loaded: LoadedModel, opts: LiveOptions, echo=print) -> Generator[dict, None, dict]:
    """Yields one update per labelled frame: `t`, `label`, `score`, `fps`, `latency_ms`,
    `people` (id, box, label, score each; person models) and the `events` that fired on it;
    returns the summary once the source ends (or `duration` passes, or q/Esc)."""
    bundle, head, source = loaded.bundle, loaded.head, loaded.source
    if bundle["backbone"]["warning"]:
        echo(bundle["backbone"]["warning"])
    headless = not has_display() if opts.headless is None else opts.headless
    if not headless:
        qt_fonts()
    with ExitStack() as stack:  # closes the outputs (and renames the videos) however it ends
        grab = Grabber(opts.source, opts.realtime, opts.reconnect, start=False)  # not yet read
        stack.callback(grab.close)
        rec = Recorder(opts.out, opts.log, opts.segment, grab.fps, grab.size)
        if not headless:
            stack.callback(cv2.destroyAllWindows)
        try:
            tally, events, shown, seconds = yield from _loop(bundle, head, source, grab, opts,
                                                             headless, rec, echo)  # fmt: skip
        except BaseException:
            rec.close(keep=False)
            raise
        rec.close()
    if grab.error:
        raise ActrecError(grab.error)
    summary = {**_summary(tally, grab, shown, seconds), "events": list(events)}
    return {**summary, "files": rec.files} if opts.segment else summary


def _loop(bundle, head, source, grab, opts, headless, rec, echo):
    """Warm up, then read, label, draw and write until the source ends, yielding each labelled
    frame's update; → (tally, the last events, last shown, seconds)."""
    s = bundle["sample"]
    threshold = threshold_for(bundle, opts.threshold)
    smoother = lambda: Smoother(bundle["classes"], opts.smooth, threshold, opts.topk)  # noqa: E731
    if isinstance(source, People):  # every frame, in order; tracks resampled to the model fps
        k, mode, rate = 1, "people", grab.fps
    else:
        k = lane_count(grab.fps, s["fps"], opts.mode, opts.lanes)
        mode, rate = opts.mode, k * s["fps"]  # frames a second for the head, dealt round lanes

    def fresh():  # the scorer's state: new at the start and when a stream comes back
        if mode == "people":  # a PersonScorer smooths each person on its own
            return PersonScorer(head, source, s["window"], s["fps"], smoother, grab.fps), None
        return Scorer(head, source, s["window"], opts.mode, k), smoother()

    score, smooth = fresh()
    score.warm_up(grab.size)
    echo(f"live: {opts.source} at {grab.fps:.1f} fps, {mode} mode, {k} lane(s) of "
         f"{s['fps']:g} fps, {'headless' if headless else 'q or Esc quits'}")  # fmt: skip
    tally = Tally()
    events: deque[dict] = deque(maxlen=1000)  # the summary's; every one is in the log
    stamps: deque[float] = deque(maxlen=30)
    shown, last_slot, latency, fps, seen = (UNSURE, 0.0, []), -1, 0.0, 0.0, []
    grab.start()  # everything is loaded and warm: the source's clock starts now
    start = time.perf_counter()
    until, session = (start + opts.duration if opts.duration else None), 0
    try:
        while True:
            frame = grab.read(until)  # None: the end, time is up, or news
            for t, notice in grab.take_notices():  # a stream lost or back: said once, logged
                echo(f"live: {notice}")
                rec.line(dict(t=round(t, 3), notice=notice), t)
            if frame is None:
                if grab.ended or (until and time.perf_counter() >= until):
                    break
                continue
            if frame.session != session:  # people and motion before the gap are another scene
                session, last_slot, seen = frame.session, -1, []
                score, smooth = fresh()
            slot = math.floor(frame.t * rate + 1e-6)
            if slot > last_slot:  # a frame for the head; others are only shown
                last_slot = slot
                if mode == "people":  # every person labelled; the largest one is the headline
                    seen = score(frame.rgb, frame.t)
                    shown = seen[0][2] if seen else (UNSURE, 0.0, [])
                else:
                    shown = smooth(score(frame.rgb, slot % k))
                stamps.append(now := time.perf_counter())
                fps = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0
                latency = now - frame.captured
                for pid, box, sh in seen if mode == "people" else [(None, None, shown)]:
                    row = dict(t=round(frame.t, 3), label=sh[0], score=round(sh[1], 4),
                               fps=round(fps, 2), latency_ms=round(latency * 1000, 1),
                               top=[[n, round(p, 4)] for n, p in sh[2]])  # fmt: skip
                    if pid is not None:
                        row.update(id=pid, box=box)
                    tally.add(row["latency_ms"], row["fps"])
                    rec.line(row, frame.t)
                fired = score.fired if mode == "people" else []
                for event in fired:  # one line per event
                    events.append(event)
                    echo(f"live: person {event['id']} {event['event']} at {event['t']:.1f} s")
                    rec.line(event, frame.t)
                yield dict(t=round(frame.t, 3), label=shown[0], score=round(shown[1], 4),
                           fps=round(fps, 2), latency_ms=round(latency * 1000, 1),
                           people=[dict(id=pid, box=box, label=sh[0], score=round(sh[1], 4))
                                   for pid, box, sh in seen], events=list(fired))  # fmt: skip
            bgr = cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR)
            draw_overlay(bgr, shown, fps, latency, f"{k}x{s['fps']:g} fps {mode}")
            for pid, box, (label, sc, _) in seen:
                alert = score.alerts.shown(pid, frame.t)
                if alert:  # held a few seconds over the person, whatever their label is now
                    draw_person(bgr, box, f"{pid} {alert[0].upper()} {alert[1]:.2f}", ALERT)
                else:
                    draw_person(bgr, box, f"{pid} {label} {sc:.2f}")
            rec.frame(bgr, frame.t)
            if not headless:
                cv2.imshow("actrec live", bgr)
                if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                    break
            if until and time.perf_counter() >= until:
                break
    except KeyboardInterrupt:
        echo("live: interrupted; closing the outputs")
    return tally, events, shown, time.perf_counter() - start
