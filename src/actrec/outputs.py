"""Output files: checked before any work starts, written whole (a temporary file renamed into
place), or grown a whole line at a time (a batch's JSON lines and CSV).

A leaf of the flow (standard library only): `predict`, `results` and the CLI write through it,
so the CLI can check an output path before torch loads.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

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
def atomic_path(path: str | Path, hidden: bool = True) -> Iterator[Path]:
    """A temporary path beside `path`, renamed onto it when the block succeeds, removed when it
    fails: a reader never sees half a file. Used for cache arrays, JSON and annotated videos.

    A full disk (or any write error) becomes one line naming the file and the free space.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ActrecError(f"cannot write {path}: {e.strerror}") from None
    name = f".{path.name}.{os.getpid()}.tmp" if hidden else f"{path.stem}.part{path.suffix}"
    tmp = path.with_name(name)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise _write_error(path, e) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_error(path: Path, e: OSError) -> ActrecError:
    free = shutil.disk_usage(path.parent).free
    # numpy reports a short write without an errno ("19968 requested and 18368 written")
    if e.errno != errno.ENOSPC and not (e.errno is None and free < 2**24):
        return ActrecError(f"cannot write {path}: {e.strerror or e}")
    return ActrecError(
        f"cannot write {path}: no space left on the device ({free / 2**20:.1f} MiB free); "
        "free some space and run the command again: it resumes where it stopped"
    )


@contextmanager
def atomic_write(path: str | Path) -> Iterator[TextIO]:
    """A text file written whole (through `atomic_path`), flushed to disk before it is renamed
    into place: `path` holds the old content or the whole new one, never half."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        yield f
        f.flush()
        os.fsync(f.fileno())


def write_json(path: str | Path, data) -> None:
    """`data` as indented JSON (UTF-8 as it is, no escapes), written whole."""
    with atomic_write(path) as f:
        f.write(json.dumps(data, indent=1, ensure_ascii=False))


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
