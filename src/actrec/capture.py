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


class Grabber:
    """Reads a source in its own thread, keeping only the newest frame.

    `realtime=True`: a file is paced at its own fps (as a camera would deliver it) and a frame
    not taken before the next arrives is dropped. `realtime=False`: every frame is handed over,
    the reader waiting for the consumer (for benchmarks). A stream URL that stops is reopened up
    to `reconnect` times; a camera that stops is an error.
    """

    def __init__(
        self, source: str | int, realtime: bool | None = None, reconnect: int = 5,
        start: bool = True,
    ) -> None:  # fmt: skip
        self.source, self.reconnect = source, reconnect
        self.is_file = not is_stream(source)
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
        """(rgb, media time) one at a time; a stream URL is reopened when it stops."""
        attempts = 0
        while not self._stop:
            for c in self.video.chunks(None, None, 1):
                attempts = 0
                yield c.frames[0], float(c.times[0])
                if self._stop:
                    return
            if self.is_file or str(self.source).isdigit() or attempts >= self.reconnect:
                if not self.is_file and not self._stop:
                    self.error = f"source {self.source} stopped delivering frames (disconnected)"
                return
            attempts += 1
            log.warning(f"stream {self.source} lost; reconnecting ({attempts}/{self.reconnect})")
            time.sleep(1.0)
            try:
                self.video = open_video(self.source, decord=False)
            except ActrecError:
                continue

    def _run(self) -> None:
        start = time.perf_counter()
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
                    self._slot = Frame(rgb, t, time.perf_counter(), k)
                    self._cond.notify_all()
        except ActrecError as e:
            self.error = str(e)
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def read(self) -> Frame | None:
        """The newest frame not yet read, waiting for one; None once the source has ended."""
        with self._cond:
            # short waits keep Ctrl-C responsive in the main thread
            while not self._cond.wait_for(lambda: self._slot is not None or self._done, 0.2):
                pass
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
