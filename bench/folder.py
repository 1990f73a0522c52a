"""`actrec predict FOLDER`: seconds per video and peak RSS for 1, 10 and 100 videos.

Each size runs `actrec predict` (the built-in model) in a fresh process over a folder of copies
(symbolic links) of one short real clip, as a user runs it. Peak memory: the highest sum, over
the run, of the proportional set size (PSS: shared pages split between the processes sharing
them) of the process and its live decode worker, sampled every 0.2 s; RSS summed would count
the pages a forked worker shares with its parent twice. Memory must stay flat over the folder:
the peak for 100 videos within 10 % of the peak for one. Writes data/bench/folder.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from runtime_speed import children  # noqa: E402

CLIP = ROOT.parent / "shared" / "data" / "wild_dev" / "falling" / (
    "AswinAjitH23_Human-Activity-Recognition-for-Life-Saving__falling.mp4")  # fmt: skip


def pss_mib(pid: int) -> float:
    """A live process's proportional set size, MiB (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run(n: int, runtime: str) -> dict:
    """`actrec predict` over `n` copies of CLIP: wall seconds per video, peak RSS (MiB), lines."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "videos"
        folder.mkdir()
        for i in range(n):
            (folder / f"clip_{i:03d}{CLIP.suffix}").symlink_to(CLIP)
        out = Path(tmp) / "out.jsonl"
        cmd = [sys.executable, "-m", "actrec", "predict", str(folder), f"json={out}",
               f"runtime={runtime}", "progress=false"]  # fmt: skip
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        peak = 0.0
        while proc.poll() is None:  # what the live processes hold together, at its highest
            peak = max(peak, sum(pss_mib(pid) for pid in [proc.pid, *children(proc.pid)]))
            time.sleep(0.2)
        wall = time.perf_counter() - t
        if proc.returncode:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.read()}")
        lines = len(out.read_text().splitlines())
    return dict(videos=n, lines=lines, wall_s=wall, s_per_video=wall / n,
                peak_pss_mib=peak)  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100])
    p.add_argument("--runtime", default="torch")
    a = p.parse_args()
    if not CLIP.is_file():
        raise SystemExit(f"no {CLIP}: the folder bench needs the real clips")
    rows = [run(n, a.runtime) for n in a.sizes]
    print(f"\nactrec predict FOLDER, built-in model, runtime={a.runtime}, clip {CLIP.name}")
    print(f"{'videos':>8}{'lines':>8}{'wall s':>10}{'s/video':>10}{'peak PSS MiB':>14}")
    for r in rows:
        print(f"{r['videos']:>8}{r['lines']:>8}{r['wall_s']:>10.1f}{r['s_per_video']:>10.2f}"
              f"{r['peak_pss_mib']:>14.0f}")  # fmt: skip
    growth = rows[-1]["peak_pss_mib"] / rows[0]["peak_pss_mib"] - 1
    print(f"peak memory, {rows[-1]['videos']} videos against {rows[0]['videos']}: {growth:+.1%}")
    (ROOT / "data" / "bench").mkdir(parents=True, exist_ok=True)
    (ROOT / "data" / "bench" / "folder.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
