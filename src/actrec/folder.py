"""`actrec predict MODEL FOLDER`: many videos through one loaded model, resumable.

Above the API (`Model.predict` labels each video), beside the CLI that calls it. Results go to a
JSONL file, one line per labelled video, appended as each one finishes, so a run killed half-way
keeps what it did and the next run skips those videos; events and person-windows to one CSV; a
video that fails is reported with its reason and the run goes on.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from actrec.outputs import append_line, read_jsonl_videos
from actrec.results import csv_text


@dataclass
class Tally:
    labelled: int = 0
    skipped: int = 0  # already in the JSONL
    failed: dict[str, str] = field(default_factory=dict)  # video → reason


def annotated_name(video: str, out_dir: Path) -> Path:
    """`out=FOLDER`: the annotated copy of `video`, named after it (`.mp4`)."""
    return out_dir / f"{Path(video).stem}.mp4"


def predict_folder(
    model,
    videos: list[str],
    opts: dict,
    jsonl: str | None,
    csv: str | None,
    out_dir: str | None,
    echo=print,
    progress: bool | None = None,
) -> Tally:
    """Label each of `videos` with `model` (an `actrec.Model`), one line per video on `echo`."""
    from actrec.features import progress_bar
    from actrec.predict import annotate

    tally = Tally()
    done = read_jsonl_videos(jsonl) if jsonl else set()
    todo = [v for v in videos if v not in done]
    tally.skipped = len(videos) - len(todo)
    if tally.skipped:
        echo(f"{tally.skipped} of {len(videos)} videos already in {jsonl}: skipped")
    if out_dir:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    header = bool(csv) and not (Path(csv).is_file() and Path(csv).stat().st_size)
    show = sys.stdout.isatty() if progress is None else progress
    results = model.predict(todo, stream=True, **opts) if todo else iter(())
    with progress_bar(show) as bar:
        task = bar.add_task("videos", total=len(todo))
        for r in results:  # one model, one decode process for the folder
            bar.advance(task)
            if not r.ok:
                tally.failed[r.video] = r.error
                echo(f"{r.video}: failed: {r.error}")
                continue
            if out_dir:
                annotate(r.video, r.to_dict(), annotated_name(r.video, Path(out_dir)))
            tally.labelled += 1
            if jsonl:
                append_line(jsonl, r.to_json(indent=None))
            if csv and (rows := r.rows()):
                append_line(csv, csv_text(rows, header))
                header = False
            echo(r.summary().splitlines()[0])
    return tally
