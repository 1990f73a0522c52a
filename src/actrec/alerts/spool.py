"""The alerts' spool: messages waiting on disk for one receiver, in order, bounded in size.

The first step of `alerts` (standard library only): `live` puts each message here before anyone
tries to send it, so a receiver that is down, slow or failing, a Ctrl-C, a kill or a power cut
loses nothing. One JSON file per message, written whole (a temporary file renamed into place),
named by a sequence number so the order survives a restart. Over `limit` bytes, the oldest
messages' snapshots are dropped first (the message itself stays), and the spool says so once.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from actrec.outputs import write_json

log = logging.getLogger("actrec")


class Spool:
    """A folder of pending messages for one receiver: `put` appends, `peek` gives the oldest,
    `done` removes it once delivered."""

    def __init__(self, folder: str | Path, limit_mb: float = 100.0) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.limit = int(limit_mb * 2**20)
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        for tmp in self.folder.glob(".*.tmp"):  # a write cut by a crash: never a message
            tmp.unlink(missing_ok=True)
        names = self._names()
        self.next = int(names[-1].split("-")[0]) + 1 if names else 0
        self.trimmed = False

    def _names(self) -> list[str]:
        return sorted(p.name for p in self.folder.glob("*.json"))

    def __len__(self) -> int:
        return len(self._names())

    def put(self, message: dict) -> Path:
        """Keep `message` (atomically, flushed to disk) behind the others; → its file."""
        with self.lock:
            path = self.folder / f"{self.next:012d}-{message.get('type', 'msg')}.json"
            self.next += 1
            write_json(path, message)  # whole, flushed to disk: a power cut keeps it
            self._trim()
            self.changed.notify_all()
        return path

    def peek(self) -> tuple[Path, dict] | None:
        """The oldest pending message and its file, or None."""
        with self.lock:
            for name in self._names():
                path = self.folder / name
                try:
                    return path, json.loads(path.read_text())
                except (OSError, ValueError):  # unreadable (a disk error): set aside, not lost
                    path.rename(path.with_suffix(".bad"))
            return None

    def done(self, path: Path) -> None:
        with self.lock:
            path.unlink(missing_ok=True)

    def wait(self, timeout: float) -> None:
        """Until something is put, or `timeout` seconds."""
        with self.changed:
            self.changed.wait(timeout)

    def _trim(self) -> None:
        """Over the limit: drop the oldest messages' snapshots until under it (said once)."""
        files = [self.folder / n for n in self._names()]
        size = sum(p.stat().st_size for p in files)
        for path in files:
            if size <= self.limit:
                return
            message = json.loads(path.read_text())
            if "snapshot_jpeg" not in message:
                continue
            before = path.stat().st_size
            message["snapshot_jpeg"], message["snapshot_dropped"] = None, True
            write_json(path, message)  # whole, flushed to disk: a power cut keeps it
            size -= before - path.stat().st_size
            if not self.trimmed:
                self.trimmed = True
                log.warning(
                    "alerts: the spool %s is over %.0f MB: the oldest snapshots are "
                    "dropped (the messages are kept)",
                    self.folder,
                    self.limit / 2**20,
                )
