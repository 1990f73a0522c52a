"""Share of tracked person-seconds with each label in a `predict json=` result (people list).

python bench/person_seconds.py runs/wild/vtest.json [--min 2.0]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path


def label_seconds(people: list[dict], min_s: float = 2.0) -> tuple[Counter[str], list[dict]]:
    """`predict`'s `people` → seconds per label over the people tracked at least `min_s`, and
    those people."""
    long = [q for q in people if q["end_s"] - q["start_s"] >= min_s]
    seconds: Counter[str] = Counter()
    for q in long:
        # windows overlap: each moment counts once, for the window that starts last before it
        edges = [r["start_s"] for r in q["timeline"]] + [q["end_s"]]
        for row, start, end in zip(q["timeline"], edges, edges[1:], strict=False):
            seconds[row["label"]] += max(0.0, end - start)
    return seconds, long


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("json")
    p.add_argument("--min", type=float, default=2.0, help="only people tracked this many seconds")
    a = p.parse_args()
    people = json.loads(Path(a.json).read_text()).get("people", [])
    seconds, long = label_seconds(people, a.min)
    total = sum(seconds.values())
    print(f"{len(long)} of {len(people)} people tracked >= {a.min:g} s, {total:.1f} person-seconds")
    for label, s in seconds.most_common():
        print(f"  {label:14s} {s:7.1f} s  {s / max(total, 1e-9):.3f}")


if __name__ == "__main__":
    main()
