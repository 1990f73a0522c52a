"""Live's outputs: the annotated video (`out=`) and the JSON-lines log (`log=`), whole or cut into
numbered segments (`segment=` seconds), so that a watch of days never grows one file for ever.

After `overlay` in the flow (it writes through `VideoOut`), before `live`. A video is written
under a `.part` name and renamed when complete, so a player never opens half a file; a log is
written line by line, so it can be followed while it grows.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TextIO

import numpy as np

from actrec.errors import ActrecError
from actrec.overlay import VideoOut


def _open_text(path: Path) -> TextIO:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("w")
    except OSError as e:
        raise ActrecError(f"cannot write the log {path}: {e.strerror}") from None


def _part(path: Path) -> Path:
    return path.with_name(f"{path.stem}.part{path.suffix}")


class Recorder:
    """`out` and `log` of one live run; with `segment`, a new numbered pair every `segment`
    seconds of the source's clock (`out_000.mp4`, `log_000.jsonl`, ...). `files` lists what
    was completed."""

    def __init__(self, out: str | None, log: str | None, segment: float | None, fps: float,
                 size: tuple[int, int]) -> None:  # fmt: skip
        self.out, self.log = (Path(out) if out else None), (Path(log) if log else None)
        self.segment, self.fps, self.size = segment, fps, size
        self.files: list[str] = []
        self.index, self.start = -1, 0.0  # the open segment and where it starts (s)
        self._video: VideoOut | None = None
        self._logf: TextIO | None = None
        if self.out or self.log:
            self._open(0.0)  # now: a log that cannot be written fails before the camera opens

    def _named(self, path: Path) -> Path:
        if not self.segment:
            return path
        return path.with_name(f"{path.stem}_{self.index:03d}{path.suffix}")

    def _open(self, t: float) -> None:
        self.index += 1
        self.start = t - t % self.segment if self.segment else 0.0
        if self.log:
            self._logf = _open_text(self._named(self.log))
        if self.out:
            path = self._named(self.out)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise ActrecError(f"cannot write {path}: {e.strerror}") from None
            self._video = VideoOut(_part(path), self.fps, self.size)

    def _finish(self, keep: bool = True) -> None:
        """Close the open segment: its video renamed from `.part` (or removed, `keep=False`)."""
        if self._logf:
            self._logf.close()
            self.files.append(str(self._named(self.log)))
            self._logf = None
        if self._video:
            self._video.close()
            path = self._named(self.out)
            if keep:
                os.replace(_part(path), path)
                self.files.append(str(path))
            else:
                _part(path).unlink(missing_ok=True)
            self._video = None

    def _at(self, t: float) -> None:
        if self.segment and t >= self.start + self.segment:
            self._finish()
            self._open(t)

    def line(self, rec: dict, t: float) -> None:
        """One JSON line (a label or an event) at source time `t`."""
        if self.log:
            self._at(t)
            self._logf.write(json.dumps(rec, ensure_ascii=False) + "\n")

    def frame(self, bgr: np.ndarray, t: float) -> None:
        """One annotated frame at source time `t`."""
        if self.out:
            self._at(t)
            self._video.write(bgr, t - self.start)

    def close(self, keep: bool = True) -> None:
        """At the end, on q, Ctrl-C (`keep`) or an error (the unfinished video is dropped)."""
        self._finish(keep)
