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

import difflib
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

from actrec.alerts.incidents import Alerter, alert_settings
from actrec.bundle import threshold_for
from actrec.capture import Grabber
from actrec.errors import ActrecError
from actrec.head import UNSURE
from actrec.options import LiveOptions
from actrec.overlay import ALERT, draw_overlay, draw_person, has_display, qt_fonts
from actrec.people import People
from actrec.recording import Recorder
from actrec.reps import exercises_for
from actrec.runtime import LoadedModel, load_model
from actrec.streaming import PersonScorer, Scorer, Smoother, lane_count

log = logging.getLogger("actrec")


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
    alert_settings(opts)  # a malformed receiver address fails before the model loads
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
    `people` (id, box, label, score each; person models), the `events` that fired on it and
    the `reps` told on it (t, id, exercise, count: person models that count exercises);
    returns the summary once the source ends (or `duration` passes, or q/Esc)."""
    bundle, head, source = loaded.bundle, loaded.head, loaded.source
    if bundle["backbone"]["warning"]:
        echo(bundle["backbone"]["warning"])
    alerts = alert_settings(opts)  # a malformed receiver address: one line, nothing started
    if alerts and not isinstance(source, People):
        raise ActrecError("alert= and mqtt= need a person model (the built-in one, or one "
                          "trained from it): alerts are about people")  # fmt: skip
    known = [*bundle["classes"], "down", "set"]  # what alert_on= may name
    if alerts and (unknown := [x for x in alerts.alert_on if x not in known]):
        hint = difflib.get_close_matches(unknown[0], known, n=1)
        raise ActrecError(f"alert_on: {unknown[0]!r} is neither down, set nor a class of this "
                          f"model" + (f"; did you mean {hint[0]!r}?" if hint else ""))  # fmt: skip
    headless = not has_display() if opts.headless is None else opts.headless
    if not headless:
        qt_fonts()
    with ExitStack() as stack:  # closes the outputs (and renames the videos) however it ends
        grab = Grabber(opts.source, opts.realtime, opts.reconnect, start=False)  # not yet read
        stack.callback(grab.close)
        rec = Recorder(opts.out, opts.log, opts.segment, grab.fps, grab.size)
        if not headless:
            stack.callback(cv2.destroyAllWindows)
        alerter = Alerter(alerts, echo) if alerts else None
        try:
            tally, events, shown, seconds = yield from _loop(
                bundle, head, source, grab, opts, headless, rec, echo, alerter)  # fmt: skip
        except BaseException:
            rec.close(keep=False)
            raise
        rec.close()
    if grab.error:
        raise ActrecError(grab.error)
    summary = {**_summary(tally, grab, shown, seconds), "events": list(events)}
    return {**summary, "files": rec.files} if opts.segment else summary


def _loop(bundle, head, source, grab, opts, headless, rec, echo, alerter=None):
    """Warm up, then read, label, draw and write until the source ends, yielding each labelled
    frame's update; → (tally, the last events, last shown, seconds). `alerter`: the alerts'
    messages, made from each labelled frame's events and closed when the loop ends."""
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
            return PersonScorer(head, source, s["window"], s["fps"], smoother, grab.fps,
                                bundle["classes"], opts.down_alert_s,
                                exercises_for(bundle)), None  # fmt: skip
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
    last_t = 0.0  # the source's clock at the last frame (where open alerts end)
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
            bgr, last_t = cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR), frame.t
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
                    what = (f"down for {event['down_s']:.0f} s" if event["event"] == "down"
                            else event["event"])  # fmt: skip
                    echo(f"live: person {event['id']} {what} at {event['t']:.1f} s")
                    rec.line(event, frame.t)
                told = score.reps if mode == "people" else []
                for rep in told:  # one log line per repetition: t, id, exercise, count
                    rec.line(rep, frame.t)
                if alerter:  # messages spooled here, sent by the alerts' own threads
                    alerter.step(frame.t, bgr, seen, fired, score.downs.down, score.tracked,
                                 score.sets)  # fmt: skip
                yield dict(t=round(frame.t, 3), label=shown[0], score=round(shown[1], 4),
                           fps=round(fps, 2), latency_ms=round(latency * 1000, 1),
                           people=[dict(id=pid, box=box, label=sh[0], score=round(sh[1], 4))
                                   for pid, box, sh in seen], events=list(fired),
                           reps=list(told))  # fmt: skip
            draw_overlay(bgr, shown, fps, latency, f"{k}x{s['fps']:g} fps {mode}")
            for pid, box, (label, sc, _) in seen:
                alert = score.alerts.shown(pid, frame.t) or score.down_shown(pid)
                if alert:  # held a few seconds over the person, whatever their label is now
                    draw_person(bgr, box, f"{pid} {alert[0].upper()} {alert[1]:.2f}", ALERT)
                else:
                    draw_person(bgr, box, f"{pid} {label} {sc:.2f}{score.count_shown(pid)}")
            rec.frame(bgr, frame.t)
            if not headless:
                cv2.imshow("actrec live", bgr)
                if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                    break
            if until and time.perf_counter() >= until:
                break
    except KeyboardInterrupt:
        echo("live: interrupted; closing the outputs")
    finally:
        if alerter:  # open events end where the source did; what is not sent stays spooled
            alerter.close(last_t)
    return tally, events, shown, time.perf_counter() - start
