"""Live events → alert messages: `new` when an alerting event is found (with a snapshot), `update`
while it lasts, `end` with a short clip; spooled and delivered beside the video loop.

Between `streaming` (the events, who is down) and `live` (which calls `Alerter.step` on each
labelled frame). A fall is open while the person is down (`down_s` grows in the updates) and
ends when they are up (`got_up`), leave the view or the source ends. The person-down alert is
latched the same way. Any other label named in `alert_on` is open while it is the person's label.
A cooldown per person and label keeps a flapping label from sending a message a second. The
clip (pre-roll and post-roll of `clip_s`) is encoded in a thread of its own.
"""

from __future__ import annotations

import base64
import logging
import queue
import re
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

from actrec.alerts.receivers import Delivery, Mqtt, Webhook, check_url
from actrec.alerts.spool import Spool
from actrec.outputs import atomic_path
from actrec.overlay import ALERT, draw_person
from actrec.video import fit_size, resize

FALL_LABELS = ("falling", "down")  # open while the person is down
CLIP_FPS = 10.0  # the clips' frame rate and long side: small files, little memory
CLIP_SIZE = 640
SNAPSHOT_SIZE = 960
LABEL_GONE_S = 2.0  # another label's alert ends this long after the label has gone


@dataclass
class AlertSettings:
    """What `actrec live` was given for alerts (see `options.LiveOptions`)."""

    alert: str | None = None  # webhook URL
    mqtt: str | None = None  # mqtt://host:port/prefix
    name: str = "camera"  # the source's name in messages and topics
    alert_on: tuple[str, ...] = FALL_LABELS
    cooldown_s: float = 30.0
    clip_s: float = 5.0
    alerts_dir: str = "actrec-alerts"
    spool_mb: float = 100.0
    update_s: float = 5.0


def alert_settings(opts) -> AlertSettings | None:
    """`LiveOptions` → the alerts' settings (None when no receiver is named); a malformed
    address is one clear error here, before anything loads."""
    if not (opts.alert or opts.mqtt):
        return None
    if opts.alert:
        check_url(opts.alert, ("http", "https"), "alert=")
    if opts.mqtt:
        check_url(opts.mqtt, ("mqtt", "mqtts"), "mqtt=")
    labels = tuple(x.strip() for v in opts.alert_on for x in str(v).split(",") if x.strip())
    return AlertSettings(opts.alert, opts.mqtt, opts.name or source_name(opts.source), labels,
                         opts.cooldown_s, opts.clip_s, opts.alerts_dir, opts.spool_mb)  # fmt: skip


def source_name(source: str | int) -> str:
    """A name for topics and clip files: camera0, the file's stem, the stream's host and path."""
    if isinstance(source, int) or str(source).isdigit():
        return f"camera{source}"
    text = str(source)
    text = text.split("://", 1)[1].split("?")[0] if "://" in text else Path(text).stem
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "camera"


@dataclass
class Incident:
    """One alerting event of one person, from `new` to `end`."""

    label: str
    person: int
    start_s: float
    score: float
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    sent: int = 0  # messages so far (a message's id is the incident's and this number)
    last_update: float = 0.0
    end_s: float | None = None
    got_up: bool | None = None
    clip: list[np.ndarray] | None = field(default_factory=list)  # frames until handed over
    clip_path: str | None = None
    clip_done: threading.Event = field(default_factory=threading.Event)
    about: dict = field(default_factory=dict)  # what every message of it says too (a set's count)


class Alerter:
    """Turns each labelled frame's events into messages, and owns the spools and deliveries."""

    def __init__(self, settings: AlertSettings, echo=print) -> None:
        self.s, self.echo = settings, echo
        root = Path(settings.alerts_dir)
        self.clips_dir = root / "clips"
        self.deliveries = []
        for kind, make in (("webhook", Webhook), ("mqtt", Mqtt)):
            url = getattr(settings, "alert" if kind == "webhook" else kind)
            if url:
                spool = Spool(root / "spool" / kind, settings.spool_mb)
                if len(spool):
                    echo(f"alerts: {len(spool)} message(s) spooled by an earlier run go first")
                self.deliveries.append(Delivery(spool, make(url)))
        for d in self.deliveries:
            d.start()  # a receiver that cannot be reached warns and is tried again
        self.open: dict[tuple[int, str], Incident] = {}
        self.seq = 0
        self.ending: list[Incident] = []  # over, waiting for their clip
        self.quiet: dict[tuple[int, str], float] = {}  # cooldown: when each last ended
        self.recent: deque[tuple[float, np.ndarray]] = deque()  # pre-roll frames
        self.clips: queue.Queue = queue.Queue()
        self.writer = threading.Thread(target=self._write_clips, daemon=True,
                                       name="actrec-alert-clips")  # fmt: skip
        self.writer.start()

    # ---- per frame --------------------------------------------------------------------------

    def step(self, t: float, bgr: np.ndarray, people: list, fired: list[dict], down,
             present, sets: list[dict] = ()) -> None:  # fmt: skip
        """A labelled frame at `t`: its people (id, box, (label, score, top)), the events fired
        on it, `down(pid)` (still down after a fall), `present(pid)` (still tracked) and the
        workout sets that ended on it (`alert_on=set`: a `new` and an `end` with the count)."""
        self._keep_frame(t, bgr)
        boxes = {pid: box for pid, box, _ in people}
        for done in sets if "set" in self.s.alert_on else ():
            self._open("set", done["id"], t, 1.0, bgr, boxes.get(done["id"]),
                       exercise=done["exercise"], count=done["count"])  # fmt: skip
            self._close((done["id"], "set"), t, None)
        for e in fired:
            if e["event"] in self.s.alert_on:
                self._open(e["event"], e["id"], t, e.get("score", 1.0), bgr, boxes.get(e["id"]))
        for pid, box, (label, score, _) in people:
            if label in self.s.alert_on and label not in FALL_LABELS:
                self._open(label, pid, t, score, bgr, box)
        labels = {pid: sh[0] for pid, _, sh in people}
        for key, inc in list(self.open.items()):
            if inc.label in FALL_LABELS:
                if not present(inc.person):
                    self._close(key, t, None)  # left the view: we cannot know
                elif not down(inc.person):
                    self._close(key, t, True)
                elif t - inc.last_update >= self.s.update_s:
                    inc.last_update = t
                    self._send(inc, "update", t, down_s=round(t - inc.start_s, 1))
            elif labels.get(inc.person) == inc.label:
                inc.last_update = t  # still that label
            elif t - inc.last_update > LABEL_GONE_S:
                self._close(key, t, None)
        self._send_ends()

    def _open(self, label: str, pid: int, t: float, score: float, bgr, box, **about) -> None:
        key = (pid, label)
        if key in self.open or t - self.quiet.get(key, -1e9) < self.s.cooldown_s:
            return
        inc = Incident(label, pid, t, round(float(score), 4), last_update=t, about=about)
        inc.clip = [f for _, f in self.recent]  # the pre-roll
        self.open[key] = inc
        self._send(inc, "new", t, score=inc.score, snapshot_jpeg=_snapshot(bgr, box, label))

    def _close(self, key: tuple[int, str], t: float, got_up: bool | None) -> None:
        if key not in self.open:  # within its cooldown: never opened
            return
        inc = self.open.pop(key)
        inc.end_s, inc.got_up = t, got_up
        self.quiet[key] = t
        if inc.clip is not None:  # the event is over before its post-roll: the clip so far
            self._hand_over(inc)
        self.ending.append(inc)

    def _hand_over(self, inc: Incident) -> None:
        self.clips.put((inc, inc.clip))
        inc.clip = None

    def _keep_frame(self, t: float, bgr: np.ndarray) -> None:
        if self.recent and t - self.recent[-1][0] < 1 / CLIP_FPS - 1e-6:
            return
        small = _at_most(bgr, CLIP_SIZE)
        small = bgr.copy() if small is bgr else small  # live draws on its frame next
        self.recent.append((t, small))
        while self.recent and self.recent[0][0] < t - self.s.clip_s:
            self.recent.popleft()
        for inc in self.open.values():  # the post-roll
            if inc.clip is not None:
                inc.clip.append(small)
                if t - inc.start_s >= self.s.clip_s:
                    self._hand_over(inc)

    def _send_ends(self) -> None:
        for inc in [i for i in self.ending if i.clip_done.is_set()]:
            self.ending.remove(inc)
            extra = dict(down_s=round(inc.end_s - inc.start_s, 1)) if inc.label in FALL_LABELS \
                else {}  # fmt: skip
            self._send(inc, "end", inc.end_s, end_s=round(inc.end_s, 3), got_up=inc.got_up,
                       clip=inc.clip_path, **extra)  # fmt: skip

    def _send(self, inc: Incident, kind: str, t: float, **fields) -> None:
        inc.sent += 1
        down = sum(1 for i in self.open.values() if i.label == "falling")  # people down now
        self.seq += 1  # the order they were made in (a receiver can check it)
        message = dict(type=kind, id=f"{inc.id}-{inc.sent}", event_id=inc.id, seq=self.seq,
                       source=self.s.name, label=inc.label, person=inc.person,
                       time=datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                       start_s=round(inc.start_s, 3), t=round(t, 3), **inc.about, **fields,
                       down_now=down)  # fmt: skip
        for d in self.deliveries:
            d.spool.put(message)
        if kind != "update":
            self.echo(f"alerts: {kind} {inc.label}, person {inc.person} at {t:.1f} s")

    # ---- the clips' thread and the end ------------------------------------------------------

    def _write_clips(self) -> None:
        while (item := self.clips.get()) is not None:
            inc, frames = item
            try:
                inc.clip_path = _write_clip(self.clips_dir / f"{self.s.name}-{inc.id}.mp4", frames)
            except (OSError, cv2.error) as e:  # the message goes without its clip
                logging.getLogger("actrec").warning("alerts: the clip was not written: %s", e)
            inc.clip_done.set()

    def close(self, t: float, timeout: float = 10.0) -> None:
        """The source ended (or the watch stopped): end what is open, write the clips, deliver
        what can be within `timeout` s; what cannot stays spooled for the next start."""
        for key, inc in list(self.open.items()):
            self._close(key, t, False if inc.label in FALL_LABELS else None)
        self.clips.put(None)
        self.writer.join(timeout)
        self._send_ends()
        for d in self.deliveries:
            left = d.finish(timeout)
            if left:
                self.echo(f"alerts: {left} message(s) for {d.receiver.name} kept in "
                          f"{d.spool.folder}: sent at the next start")  # fmt: skip


def _snapshot(bgr: np.ndarray, box, label: str) -> str:
    """The frame with the person boxed, as a base64 JPEG (long side at most SNAPSHOT_SIZE)."""
    frame = bgr.copy()
    if box is not None:
        draw_person(frame, box, label.upper(), ALERT)
    ok, jpeg = cv2.imencode(".jpg", _at_most(frame, SNAPSHOT_SIZE), [cv2.IMWRITE_JPEG_QUALITY, 80])
    return base64.b64encode(jpeg.tobytes()).decode() if ok else ""


def _at_most(bgr: np.ndarray, long_side: int) -> np.ndarray:
    """The frame with its long side shrunk to `long_side` (as it is when already smaller)."""
    size = bgr.shape[1::-1]
    return resize(bgr, fit_size(size, long_side)) if max(size) > long_side else bgr


def _write_clip(path: Path, frames: list[np.ndarray]) -> str | None:
    """Frames → an mp4 (written under a .part name, renamed when whole); → its path."""
    if not frames:
        return None
    size = frames[0].shape[1::-1]
    with atomic_path(path, hidden=False) as part:
        out = cv2.VideoWriter(str(part), cv2.VideoWriter_fourcc(*"mp4v"), CLIP_FPS, size)
        for f in frames:
            out.write(resize(f, size))  # a camera that changed size mid-clip
        out.release()
    return str(path)
