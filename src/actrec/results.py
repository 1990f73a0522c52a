"""What `predict` answers: `Result` (a video's label, timeline, people, events) and its writers.

The end of the flow for files (after `predict`), shared by the API, the CLI, the notebook and
`bench/`. Plain dataclasses (numpy-free); `to_dict` is the JSON layout `json=` writes,
`from_dict` reads it back; `summary` the text the CLI prints, `plot` a PNG timeline (matplotlib
imported for it alone).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field, fields
from itertools import groupby
from pathlib import Path

from actrec.outputs import atomic_write, write_json


@dataclass
class Window:
    """One timeline window: `label` over [start_s, end_s), scored `score`."""

    start_s: float
    end_s: float
    label: str
    score: float


@dataclass
class Event:
    """A one-off action (a fall, sitting down, standing up) on one person's timeline."""

    label: str
    start_s: float
    end_s: float
    score: float
    id: int | None = None  # the person's track id (None: a whole-frame model's clip event)
    down_s: float | None = None  # a fall: seconds on the floor after it (until up, gone or the end)
    got_up: bool | None = None  # a fall: whether they got up (None: left the view, or unknown)


@dataclass
class RepSet:
    """A stretch of repetitions of one exercise by one person."""

    exercise: str
    count: int
    start_s: float
    end_s: float
    rep_times_s: list[float] = field(default_factory=list)
    id: int | None = None


@dataclass
class Person:
    """One tracked person: their label over their time on screen, timeline, events, boxes."""

    id: int
    label: str
    score: float
    start_s: float
    end_s: float
    timeline: list[Window] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    frames: list[list] = field(default_factory=list)  # [t, [x1, y1, x2, y2]] per sampled frame
    reps: list[RepSet] = field(default_factory=list)

    @property
    def boxes(self) -> list[list[float]]:
        """The person's box (x1, y1, x2, y2 in source pixels) at each sampled frame."""
        return [b for _, b in self.frames]


@dataclass
class Result:
    """A labelled video. `label`/`score`/`probabilities` are the clip's (a person model's: its
    main actor's); `error` is set, and nothing else, for a video of a batch that failed."""

    video: str
    label: str = ""
    score: float = 0.0
    probabilities: dict[str, float] = field(default_factory=dict)
    timeline: list[Window] = field(default_factory=list)
    people: list[Person] | None = None  # None: a whole-frame model (no people); []: nobody found
    events: list[Event] = field(default_factory=list)
    reps: list[RepSet] = field(default_factory=list)
    duration_s: float = 0.0
    fps_sampled: float = 0.0
    window_s: float = 0.0
    backbone: str = ""
    warning: str = ""
    hint: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    # ---- reading and writing -----------------------------------------------------------------

    @classmethod
    def from_dict(cls, d: dict) -> Result:
        """The JSON layout (`to_dict`, `json=`) → a Result; unknown keys are ignored."""
        known = {f.name for f in fields(cls)}
        r = cls(**{k: v for k, v in d.items() if k in known})
        r.timeline = [Window(**w) for w in d.get("timeline", [])]
        r.events = [Event(**e) for e in d.get("events", [])]
        r.reps = [RepSet(**s) for s in d.get("reps", [])]
        if d.get("people") is not None:
            r.people = [_person(p) for p in d["people"]]
        return r

    def to_dict(self) -> dict:
        d = asdict(self)
        if not d["error"]:
            del d["error"]  # only a failed video of a batch has one
        if d["people"] is None:
            del d["people"]  # a whole-frame model tracks nobody
        return d

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def save(self, path: str | Path) -> Path:
        """Write the JSON (atomically: the file is whole or absent)."""
        write_json(path, self.to_dict())
        return Path(path)

    def rows(self) -> list[dict]:
        """One row per event, per set of reps (`count`) and per window (a person's, or the
        clip's for whole-frame models): what `to_csv` writes."""
        rows = [
            dict(
                video=self.video,
                kind="event",
                person=e.id,
                label=e.label,
                start_s=e.start_s,
                end_s=e.end_s,
                score=e.score,
            )
            for e in self.events
        ]
        rows += [
            dict(video=self.video, kind="reps", person=s.id, label=s.exercise,
                 start_s=s.start_s, end_s=s.end_s, count=s.count)
            for s in self.reps
        ]  # fmt: skip
        lanes = (
            [(p.id, p.timeline) for p in self.people] if self.people else [(None, self.timeline)]
        )
        for pid, timeline in lanes:
            rows += [
                dict(
                    video=self.video,
                    kind="window",
                    person=pid,
                    label=w.label,
                    start_s=w.start_s,
                    end_s=w.end_s,
                    score=w.score,
                )
                for w in timeline
            ]
        return rows

    def to_csv(self, path: str | Path) -> Path:
        """One row per event, set of reps or person-window: video, kind, person, label, start_s,
        end_s, score, count."""
        with atomic_write(path) as f:
            write_csv_rows(f, self.rows(), header=True)
        return Path(path)

    def summary(self) -> str:
        """What `actrec predict` prints: the label, the people, the events, a short timeline."""
        return summary(self)

    def plot(self, path: str | Path | None = None) -> Path:
        """A PNG timeline, one lane per person (or the clip's), events marked; → its path
        (default: beside the video, `<stem>.timeline.png`, or in the working folder for URLs)."""
        out = Path(path) if path else default_plot_path(self.video)
        return plot_timeline(self, out)


def _person(d: dict) -> Person:
    p = Person(**{k: v for k, v in d.items() if k in {f.name for f in fields(Person)}})
    p.timeline = [Window(**w) for w in d.get("timeline", [])]
    p.events = [Event(**e) for e in d.get("events", [])]
    p.reps = [RepSet(**s) for s in d.get("reps", [])]
    p.frames = [[float(t), list(b)] for t, b in d.get("frames", [])]
    return p


def default_plot_path(video: str) -> Path:
    if "://" in video:
        return Path(Path(video.split("?")[0]).stem + ".timeline.png")
    return Path(video).with_suffix(".timeline.png")


CSV_FIELDS = ("video", "kind", "person", "label", "start_s", "end_s", "score", "count")


def write_csv_rows(f, rows: list[dict], header: bool) -> None:
    w = csv.DictWriter(f, CSV_FIELDS, lineterminator="\n")
    if header:
        w.writeheader()
    w.writerows(rows)


def csv_text(rows: list[dict], header: bool) -> str:
    buf = io.StringIO()
    write_csv_rows(buf, rows, header)
    return buf.getvalue()


# ---- for people to read: the printed summary and the PNG timeline -------------------------

MAX_PEOPLE = 8  # people listed in the printed summary; the JSON has them all
MAX_SEGMENTS = 8  # timeline segments printed


def segments(timeline: list[Window]) -> list[tuple[float, float, str, float]]:
    """Consecutive windows of one label → (start_s, end_s, label, best score) spans."""
    out = []
    for label, run in groupby(timeline, key=lambda w: w.label):
        ws = list(run)
        out.append((ws[0].start_s, ws[-1].end_s, label, max(w.score for w in ws)))
    return out


def summary(r: Result) -> str:
    """The label, the people, the events and a short timeline table, in plain lines."""
    if r.error:
        return f"{r.video}: failed: {r.error}"
    if r.people == []:
        return f"{r.video}: nobody found"  # the hint line says what to try
    top = sorted(r.probabilities.items(), key=lambda kv: -kv[1])[:3]
    lines = [
        f"{r.video}: {r.label} ({r.score:.2f}); top-3 " + ", ".join(f"{k} {v:.2f}" for k, v in top)
    ]
    if r.people:
        lines.append(f"people: {len(r.people)} tracked")
        for p in r.people[:MAX_PEOPLE]:
            lines.append(
                f"  person {p.id}: {p.label} ({p.score:.2f}), {p.start_s:.1f}-{p.end_s:.1f} s"
            )
        if len(r.people) > MAX_PEOPLE:
            lines.append(f"  ... and {len(r.people) - MAX_PEOPLE} more (in the JSON)")
    for e in r.events[:MAX_PEOPLE]:  # one-off actions: a fall, sitting down, standing up
        who = f"person {e.id} " if e.id is not None else ""
        lines.append(f"event: {who}{e.label} at {e.start_s:.1f}-{e.end_s:.1f} s ({e.score:.2f})")
    for s in r.reps:  # "person 1: 12 squats (3.1-31.0 s)"
        who = f"person {s.id}: " if s.id is not None else ""
        lines.append(f"{who}{s.count} {exercise_name(s.exercise, s.count)} "
                     f"({s.start_s:.1f}-{s.end_s:.1f} s)")  # fmt: skip
    lines += _timeline_table(r)
    return "\n".join(lines)


def exercise_name(exercise: str, count: int) -> str:
    """A class name as people write a count of it: push_up → push-ups, jumping_jacks → jumping
    jacks, squat → squats (1 squat)."""
    name = exercise.replace("_up", "-up").replace("_", " ")
    return name if count == 1 or name.endswith("s") else name + "s"


def _timeline_table(r: Result) -> list[str]:
    spans = segments(r.timeline)
    whose = " (main person)" if r.people else ""
    lines = [
        f"timeline{whose}: {len(r.timeline)} windows of {r.window_s:g} s over {r.duration_s:.1f} s"
    ]
    for start, end, label, score in spans[:MAX_SEGMENTS]:
        lines.append(f"  {start:6.1f}-{end:6.1f} s  {label} ({score:.2f})")
    if len(spans) > MAX_SEGMENTS:
        lines.append(f"  ... {len(spans) - MAX_SEGMENTS} more spans (json= writes them all)")
    return lines


def plot_timeline(r: Result, out: Path) -> Path:
    """One lane per person (the clip's for whole-frame models), a coloured bar per span of one
    label, events marked in red; written as a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed: the PNG is the product
    import matplotlib.pyplot as plt

    lanes = [(f"person {p.id}", p.timeline, p.events) for p in r.people or []]
    reps = [[t for s in p.reps for t in s.rep_times_s] for p in r.people or []]
    if not lanes:
        lanes = [("clip", r.timeline, r.events)]
    labels = sorted({w.label for _, tl, _ in lanes for w in tl})
    cmap = plt.get_cmap("tab20")
    colour = {lab: cmap(i % 20) for i, lab in enumerate(labels)}
    fig, ax = plt.subplots(figsize=(10, 1.6 + 0.6 * len(lanes)))
    for y, (_, tl, events) in enumerate(lanes):
        for start, end, label, _ in segments(tl):
            ax.barh(y, end - start, left=start, height=0.6, color=colour[label])
        for e in events:
            ax.barh(
                y,
                max(e.end_s - e.start_s, 0.2),
                left=e.start_s,
                height=0.8,
                fill=False,
                edgecolor="red",
                linewidth=2,
            )
            ax.text(e.start_s, y - 0.42, e.label, color="red", fontsize=8, va="bottom")
        if y < len(reps) and reps[y]:  # each repetition, a tick
            ax.vlines(reps[y], y - 0.3, y + 0.3, color="black", linewidth=1)
    ax.set_yticks(range(len(lanes)), [name for name, _, _ in lanes])
    ax.set_xlim(0, max(r.duration_s, 1e-3))
    ax.set_ylim(-0.9, len(lanes) - 0.3)
    ax.invert_yaxis()
    ax.set_xlabel("seconds")
    ax.set_title(f"{Path(r.video).name}: {r.label} ({r.score:.2f})", fontsize=10)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colour[lab]) for lab in labels]
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
