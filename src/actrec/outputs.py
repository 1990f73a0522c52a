"""Output files: checked before any work starts, written whole (a temporary file renamed into
place), or grown a whole line at a time (a batch's JSON lines and CSV).

A leaf of the flow (standard library only): `predict`, `results` and the CLI write through it,
so the CLI can check an output path before torch loads.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from actrec.errors import ActrecError


def check_writable(path: str | Path, what: str = "output") -> Path:
    """Fail now, not after the run: `path`'s folder must exist (or be creatable) and take a
    file, and `path` must not be a folder. Nothing is left behind."""
    p = Path(path)
    if p.is_dir():
        raise ActrecError(f"{what} {p} is a folder: give a file name")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ActrecError(f"cannot write {what} {p}: {e.strerror or e}") from None
    return p


@contextmanager
def atomic_write(path: str | Path, mode: str = "w"):
    """A text file written through a temporary one beside it, renamed into place at the end:
    `path` holds the old content or the whole new one, never half."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent)
    try:
        with os.fdopen(fd, mode, encoding="utf-8", newline="") as f:
            yield f
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def append_line(path: str | Path, text: str) -> None:
    """One whole line appended and flushed to disk (a JSONL or CSV that a batch grows): a run
    killed half-way leaves every finished video's line."""
    with open(path, "a", encoding="utf-8", newline="") as f:
        f.write(text if text.endswith("\n") else text + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_jsonl_videos(path: str | Path) -> set[str]:
    """The videos a JSONL of results already holds. A line torn by a run killed while writing
    it is cut off, so the next line appended starts on a line of its own."""
    done: set[str] = set()
    p = Path(path)
    if not p.is_file():
        return done
    text = p.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
        with open(p, "r+", encoding="utf-8") as f:
            f.truncate(len(text.encode("utf-8")))
    for line in text.splitlines():
        try:
            done.add(json.loads(line)["video"])
        except (ValueError, KeyError, TypeError):
            continue
    return done
