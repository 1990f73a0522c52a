"""Live sources: a camera, stream or file read in its own thread, the newest frame only.

After `video` in the flow (it opens the source through `open_video`), before `live`, which reads
from it: when labelling is slower than the source, old frames are dropped, never queued.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np

from actrec.errors import ActrecError
from actrec.video import is_stream, open_video

log = logging.getLogger("actrec")


@dataclass
class Frame:
    """One captured frame: RGB pixels, media time (s), wall-clock capture time, number."""

    rgb: np.ndarray  # (H, W, 3) uint8
    t: float
    captured: float
    index: int
    session: int = 0  # bumped when a stream comes back: what came before is another scene


MAX_PAUSE = 30.0  # seconds: the longest wait between two reconnection attempts


class Grabber:
    """Reads a source in its own thread, keeping only the newest frame.

    `realtime=True`: a file is paced at its own fps (as a camera would deliver it) and a frame
    not taken before the next arrives is dropped. `realtime=False`: every frame is handed over,
    the reader waiting for the consumer (for benchmarks). A stream URL or camera that stops is
    reopened up to `reconnect` times (None: for ever), after pauses growing from 1 s to
    MAX_PAUSE; a file that ends has ended.
    """

    def __init__(
        self, source: str | int, realtime: bool | None = None, reconnect: int | None = None,
        start: bool = True,
    ) -> None:  # fmt: skip
        self.source, self.reconnect = source, reconnect
        self.is_file = not is_stream(source)
        self.session = 0
        self.notices: list[tuple[float, str]] = []  # (seconds since start, news) for the log
        self._t0 = time.perf_counter()
        self.realtime = self.is_file if realtime is None else realtime
        # OpenCV only: with a decord reader open, OpenCV's Qt window segfaults in imshow
        self.video = open_video(source, decord=False)  # ActrecError: no camera, bad file
        self.fps = self.video.fps
        self.size = self.video.size
        self.dropped = 0
        self.error = ""
        self._cond = threading.Condition()
        self._slot: Frame | None = None
        self._done = self._stop = False
        self._thread = threading.Thread(target=self._run, name="actrec-grab", daemon=True)
        if start:
            self.start()

    def start(self) -> None:
        """Start reading (and, for a file at `realtime`, its clock): open first, warm up the
        models, then start, so the first frame waits for nothing a later one does not."""
        if not self._thread.is_alive():
            self._thread.start()

    def _frames(self):
        """(rgb, media time) one at a time; a stream is reopened when it stops."""
        attempts = 0
        while not self._stop:
            for c in self.video.chunks(None, None, 1):
                if attempts:  # back after `attempts` tries: labelling starts afresh
                    self.session += 1
                    self._notice(f"source {self.source} back after {attempts} attempt(s)")
                attempts = 0
                yield c.frames[0], float(c.times[0])
                if self._stop:
                    return
            if self.is_file:
                return
            self.video.close()
            while not self._stop:  # until it opens again, or `reconnect` attempts are spent
                if self.reconnect is not None and attempts >= self.reconnect:
                    self.error = f"source {self.source} stopped delivering frames (disconnected)"
                    return
                attempts += 1
                pause = min(MAX_PAUSE, 2.0 ** (attempts - 1))
                of = f"/{self.reconnect}" if self.reconnect is not None else ""
                self._notice(f"source {self.source} lost; reconnecting in {pause:g} s (attempt "
                             f"{attempts}{of})")  # fmt: skip
                self._sleep(pause)
                try:
                    self.video = open_video(self.source, decord=False)
                    break
                except ActrecError:
                    continue

    def _notice(self, msg: str) -> None:
        log.debug(msg)
        with self._cond:
            self.notices.append((time.perf_counter() - self._t0, msg))
            self._cond.notify_all()

    def take_notices(self) -> list[tuple[float, str]]:
        """The news since the last call: (seconds since start, a stream lost or back)."""
        with self._cond:
            out, self.notices = self.notices, []
        return out

    @property
    def ended(self) -> bool:
        """The source has ended (or failed) and every frame was read."""
        with self._cond:
            return self._done and self._slot is None

    def _sleep(self, seconds: float) -> None:
        """Wait, but stop waiting when the reader is closed."""
        with self._cond:
            self._cond.wait_for(lambda: self._stop, seconds)

    def _run(self) -> None:
        start = self._t0 = time.perf_counter()
        try:
            for k, (rgb, t) in enumerate(self._frames()):
                if self.realtime and self.is_file:  # deliver at the file's own pace
                    time.sleep(max(0.0, start + t - time.perf_counter()))
                if not self.is_file:  # a camera's clock is the wall clock
                    t = time.perf_counter() - start
                with self._cond:
                    if not self.realtime:
                        self._cond.wait_for(lambda: self._slot is None or self._stop)
                    if self._stop:
                        return
                    self.dropped += self._slot is not None
                    self._slot = Frame(rgb, t, time.perf_counter(), k, self.session)
                    self._cond.notify_all()
        except ActrecError as e:
            self.error = str(e)
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def read(self, until: float | None = None) -> Frame | None:
        """The newest frame not yet read, waiting for one; None once the source has ended (see
        `ended`), when news arrives (`take_notices`) or when the clock (`time.perf_counter`)
        passes `until`, e.g. while a stream is away."""
        ready = lambda: self._slot is not None or self._done or bool(self.notices)  # noqa: E731
        with self._cond:
            # short waits keep Ctrl-C responsive in the main thread
            while not self._cond.wait_for(ready, 0.2):
                if until is not None and time.perf_counter() >= until:
                    return None
            frame, self._slot = self._slot, None
            self._cond.notify_all()
            return frame

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread.ident is not None:  # started
            self._thread.join(timeout=2)
        self.video.close()
