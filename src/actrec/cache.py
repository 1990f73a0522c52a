"""The feature store: one float16 `(T, D)` array per video, under one folder per backbone setting.

Fourth stage of the flow (after `backbone`). Layout, flat as nanoGPT's:
`<cache_dir>/<fingerprint>-fps<F>/<key>.npy` with a `<key>.json` sidecar (source path, size, mtime,
fps, frame times, status, error) and a merged `manifest.json`. Every write goes to a temporary file
that is renamed into place, so a killed extraction leaves no partial array; a video whose sidecar
matches its file's size and mtime is skipped, so extraction resumes. Reads are memory-mapped.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from actrec.outputs import atomic_path


@dataclass
class Entry:
    """What the cache knows about one video."""

    source: str
    size: int
    mtime: float
    status: str  # ok | failed
    frames: int = 0  # T, sampled frames stored
    fps: float = 0.0  # the video's native rate
    times: list[float] = field(default_factory=list)  # (T,) seconds of each stored frame
    error: str = ""
    rank: int = 0  # the DDP rank that extracted it


def _atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())


def _stat(path: str) -> tuple[int, float]:
    st = os.stat(path)
    return st.st_size, st.st_mtime


def _writer_alive(tmp: Path) -> bool:
    """Is the process that names `tmp` (`.<name>.<pid>.tmp`, see `atomic_path`) running?"""
    try:
        os.kill(int(tmp.name.rsplit(".", 2)[-2]), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:  # someone else's process
        return True
    return True


class FeatureCache:
    """Arrays and sidecars of one (fingerprint, sampling) setting."""

    def __init__(self, root: str | Path, fingerprint: str, fps: float) -> None:
        self.dir = Path(root) / f"{fingerprint}-fps{fps:g}"
        self.dir.mkdir(parents=True, exist_ok=True)

    def key(self, source: str) -> str:
        """Stable per absolute path; the stem keeps the folder readable."""
        src = str(Path(source).resolve())
        return f"{Path(src).stem[:40]}-{hashlib.sha1(src.encode()).hexdigest()[:12]}"

    def array_path(self, source: str) -> Path:
        return self.dir / f"{self.key(source)}.npy"

    def entry(self, source: str) -> Entry | None:
        """The sidecar of `source` if it is current (same size and mtime), else None."""
        side = self.dir / f"{self.key(source)}.json"
        try:
            e = Entry(**json.loads(side.read_text()))
            if (e.size, e.mtime) != _stat(source):
                return None
        except (OSError, ValueError, TypeError):
            return None
        if e.status == "ok" and not self.array_path(source).exists():
            return None
        return e

    def put(
        self, source: str, features: np.ndarray, fps: float, times: np.ndarray, rank: int = 0
    ) -> Entry:
        """Store `features` (T, D) as float16, then its sidecar: the sidecar marks it complete.
        (Person models store their main actor's sequence: training reads nothing else.)"""
        size, mtime = _stat(source)
        arr = np.ascontiguousarray(features, dtype=np.float16)
        _atomic_write(self.array_path(source), lambda f: np.save(f, arr))
        times = [round(float(t), 4) for t in times]
        e = Entry(source, size, mtime, "ok", len(arr), fps, times, rank=rank)
        self._write_sidecar(source, e)
        return e

    def put_failure(self, source: str, error: str) -> Entry:
        try:
            size, mtime = _stat(source)
        except OSError:
            size, mtime = -1, 0.0
        e = Entry(source, size, mtime, "failed", error=error)
        self._write_sidecar(source, e)
        return e

    def _write_sidecar(self, source: str, e: Entry) -> None:
        data = json.dumps(asdict(e)).encode()
        _atomic_write(self.dir / f"{self.key(source)}.json", lambda f: f.write(data))

    def load(self, source: str) -> np.ndarray:
        """Memory-mapped (T, D) float16."""
        return np.load(self.array_path(source), mmap_mode="r")

    def remove_partial(self) -> int:
        """Delete temporary files left by a killed writer; returns how many. A file of a writer
        still running (another command or DDP rank on the same cache) is its own to finish."""
        stale = [p for p in self.dir.glob(".*.tmp") if not _writer_alive(p)]
        for p in stale:
            p.unlink(missing_ok=True)
        return len(stale)

    def write_manifest(self, extra: dict | None = None) -> Path:
        """Merge every sidecar into `manifest.json` (one entry per video)."""
        entries = [json.loads(p.read_text()) for p in sorted(self.dir.glob("*.json"))]
        entries = [e for e in entries if "source" in e]
        path = self.dir / "manifest.json"
        body = {**(extra or {}), "videos": entries}
        _atomic_write(path, lambda f: f.write(json.dumps(body, indent=1).encode()))
        return path
