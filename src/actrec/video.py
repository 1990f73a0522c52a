"""Decoding and sampling: a video file, camera or stream → chunks of RGB frames with timestamps.

Second stage of the flow (after `catalog`). OpenCV reads files, cameras and stream URLs; decord
takes over for files OpenCV cannot open. Both give the same iterator: bounded chunks, read in
order, so memory never grows with video length.
`capture.Grabber` reads any of them in a thread that keeps only the newest frame, for `live`.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from actrec.errors import ActrecError

cv2.setNumThreads(1)  # decoding runs in several worker processes; one thread each avoids thrash


@contextmanager
def native_quiet() -> Iterator[None]:
    """Silence what FFmpeg, OpenCV and decord's C++ code write to stderr (file descriptor 2)
    while a video is opened: a bad file is actrec's one error line, not theirs first. Their
    lines stay available with ACTREC_DEBUG=1."""
    if os.environ.get("ACTREC_DEBUG"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def quiet_process(_worker_id: int = 0) -> None:
    """A decode process's file descriptor 2 to /dev/null for its whole life: FFmpeg's decoding
    threads and its decoders' destructors write a damaged file's lines at any moment, also after
    the read that caused them; the process writes nothing of ours (its errors travel back to the
    parent as exceptions). Kept with ACTREC_DEBUG=1."""
    if not os.environ.get("ACTREC_DEBUG"):
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)


def fit_size(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """A frame's (w, h) scaled so that its long side is `long_side`, aspect kept (32 px at
    least): how the person stream sizes frames for the pose model, in predict and live alike."""
    w, h = size
    k = long_side / max(w, h)
    return max(32, round(w * k)), max(32, round(h * k))


def resize(rgb: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """A frame at `size` (w, h): area averaging to shrink; bilinear to enlarge, as repeating
    pixels into blocks (OpenCV's area mode upwards) hides people from the pose model."""
    if size is None or rgb.shape[1::-1] == size:
        return rgb
    shrink = size[0] * size[1] < rgb.shape[0] * rgb.shape[1]
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


@dataclass
class FrameChunk:
    """Consecutive sampled frames of one source."""

    frames: np.ndarray  # (N, H, W, 3) uint8 RGB
    times: np.ndarray  # (N,) float64 seconds from the start
    index: np.ndarray  # (N,) int64 source frame numbers


def sampled_indices(n_frames: int, native_fps: float, target_fps: float | None) -> np.ndarray:
    """Frame numbers to keep: the first frame at or after every tick of `target_fps`.

    `target_fps=None` (or one at or above the native rate) keeps every frame.
    """
    if not target_fps or target_fps >= native_fps:
        return np.arange(n_frames, dtype=np.int64)
    ratio = native_fps / target_fps
    ticks = np.arange(int(math.ceil(n_frames / ratio)) + 1)
    idx = np.unique(np.ceil(ticks * ratio - 1e-6).astype(np.int64))
    return idx[idx < n_frames]


def is_stream(source: str | int) -> bool:
    return isinstance(source, int) or str(source).isdigit() or "://" in str(source)


class VideoSource:
    """An opened file, camera or stream. Iterate with `chunks()`; close with `close()`."""

    def __init__(self, source: str | int | Path, min_frames: int = 2, decord: bool = True) -> None:
        self.source = source
        self.backend = ""
        self._vr = None
        self._cap: cv2.VideoCapture | None = None
        if is_stream(source):
            self._open_cv(int(source) if str(source).isdigit() else str(source))
            self.n_frames: int | None = None
            return
        path = Path(source)
        if not path.is_file():
            raise ActrecError(f"video not found: {path}")
        if path.stat().st_size == 0:
            raise ActrecError(f"cannot decode {path}: the file is empty (0 bytes)")
        # OpenCV first: decord's decoder thread runs ahead of a slow reader without bound
        # (dmlc/decord#208), so its memory grew with video length (0.7 GB on vtest.avi);
        # decord stays the fallback for files OpenCV cannot read.
        try:
            self._open_cv(str(path))
            count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
            self.n_frames = count if count > 0 else None
        except ActrecError:
            if not (decord and self._open_decord(path)):
                raise
        if self.n_frames is not None and self.n_frames < min_frames:
            raise ActrecError(
                f"cannot use {path}: it has {self.n_frames} frame(s), at least {min_frames} needed"
            )

    def _open_decord(self, path: Path) -> bool:
        try:
            import decord

            decord.logging.set_level(decord.logging.QUIET)  # its errors come back as exceptions
            with native_quiet():  # its C++ reader logs its own "ERROR opening" line
                self._vr = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
            self.n_frames = len(self._vr)
            self.fps = float(self._vr.get_avg_fps()) or 25.0
            h, w = self._vr[0].shape[:2]  # one real decode: catches files with a broken stream
            self.size = (w, h)
            self._vr.seek(0)
            self.backend = "decord"
            return self.n_frames > 0
        except Exception:  # decord raises its own error types (and RuntimeError) on bad files
            self._vr = None
            return False

    def _open_cv(self, source: str | int) -> None:
        with native_quiet():  # FFmpeg's own lines ("moov atom not found") before ours
            cap = cv2.VideoCapture(source)
            ok, frame = cap.read() if cap.isOpened() else (False, None)
        if not ok:
            cap.release()
            what = "camera" if isinstance(source, int) else "cannot decode"
            raise ActrecError(f"{what} {source}: no frame could be read")
        self._cap, self._first = cap, frame
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 0 < fps < 1000 else 25.0  # GIFs often report 0
        self.size = (frame.shape[1], frame.shape[0])
        self.backend = "opencv"

    @property
    def duration(self) -> float | None:
        return None if self.n_frames is None else self.n_frames / self.fps

    def chunks(
        self,
        target_fps: float | None = 10.0,
        size: tuple[int, int] | None = None,
        chunk: int = 32,
    ) -> Iterator[FrameChunk]:
        """Sampled frames in chunks of at most `chunk`, resized to `size=(w, h)` if given."""
        if self._vr is not None:
            yield from self._decord_chunks(target_fps, size, chunk)
        else:
            yield from self._cv_chunks(target_fps, size, chunk)

    def _decord_chunks(self, target_fps, size, chunk) -> Iterator[FrameChunk]:
        # Sequential next()/skip_frames(), not get_batch(): get_batch seeks for every batch and
        # kept ~0.7 GB of decoder buffers on a 768x576 AVI; reading in order stays flat and is
        # 3x faster.
        idx = sampled_indices(self.n_frames, self.fps, target_fps)
        self._vr.seek(0)
        pos = 0
        for s in range(0, len(idx), chunk):
            part = idx[s : s + chunk]
            frames = []
            try:
                for i in part.tolist():
                    if i > pos:
                        self._vr.skip_frames(i - pos)
                    frames.append(resize(self._vr.next().asnumpy(), size))  # (H, W, 3) RGB
                    pos = i + 1
            except Exception as e:
                raise ActrecError(
                    f"cannot decode {self.source}: decoding failed near frame {pos} ({e})"
                ) from None
            yield FrameChunk(np.stack(frames), part / self.fps, part)

    def _cv_chunks(self, target_fps, size, chunk) -> Iterator[FrameChunk]:
        # grab() decodes every frame (the codec needs them all) but only the sampled ones are
        # retrieved (colour-converted and copied out), and they are resized before the BGR→RGB
        # swap, which is a pure channel permutation: the same pixels for far less work.
        ratio = self.fps / target_fps if target_fps and target_fps < self.fps else 1.0
        tick, i, frame, more = 0, 0, self._first, True  # frame 0 was read at open
        buf: list[np.ndarray] = []
        nums: list[int] = []
        while more:
            if i >= math.ceil(tick * ratio - 1e-6):  # same rule as sampled_indices
                if frame is None:
                    ok, frame = self._cap.retrieve()
                    if not ok:
                        break
                buf.append(cv2.cvtColor(resize(frame, size), cv2.COLOR_BGR2RGB))
                nums.append(i)
                while math.ceil(tick * ratio - 1e-6) <= i:
                    tick += 1
                if len(buf) == chunk:
                    yield self._cv_chunk(buf, nums)
                    buf, nums = [], []
            frame, more = None, self._cap.grab()
            i += 1
        if buf:
            yield self._cv_chunk(buf, nums)

    def _cv_chunk(self, buf: list[np.ndarray], nums: list[int]) -> FrameChunk:
        index = np.asarray(nums, dtype=np.int64)
        return FrameChunk(np.stack(buf), index / self.fps, index)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
        self._vr = None

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_video(source: str | int | Path, min_frames: int = 2, decord: bool = True) -> VideoSource:
    """Open a file (OpenCV, else decord; `decord=False`: OpenCV only), a camera or a stream."""
    return VideoSource(source, min_frames=min_frames, decord=decord)
