"""Soak: `actrec live` on a looped 640x480 30 fps file at realtime=true for N minutes.

The source is five wild_dev clips (walking, running, a fall, squats, waving) at 640x480, one after
another, repeated to last the run (made once in data/bench/). live runs as a user runs it, in its
own process, with `segment=60` outputs; its RSS (with its children) is sampled every 15 s. Prints:
- the RSS slope in MiB/hour, a least-squares line through the samples after the first 2 minutes;
- median FPS and p95 label latency over the first and the last 5 minutes (from the log's lines);
- frames labelled and dropped, events, and the files written;
- with `--alerts`: live posts its alerts to a receiver in this process on 127.0.0.1 that fails
  30 % of the requests (503) and answers the others after 0.2-2 s; the messages received (each
  id once?), duplicates, and what is left in the spool at the end.

    python bench/live_soak.py [--minutes 30] [--model builtin] [--runtime torch] [--alerts]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WILD = ROOT.parent / "shared" / "data" / "wild_dev"
FIVE = ["walking/sudchaudhary_videoactivitydescription__walking.avi",
        "running/sudchaudhary_videoactivitydescription__running.avi",
        "falling/AswinAjitH23_Human-Activity-Recognition-for-Life-Saving__falling.mp4",
        "squat/yuyoujiang_test_video__squat.mp4",
        "handwaving/sudchaudhary_videoactivitydescription__waving.avi"]  # fmt: skip


def looped_source(minutes: float) -> Path:
    """The five clips at 640x480 (letterboxed), 30 fps, repeated for `minutes`."""
    path = ROOT / "data" / "bench" / f"soak_{minutes:g}min.mp4"
    if path.is_file():
        return path
    frames = []
    for clip in FIVE:
        cap = cv2.VideoCapture(str(WILD / clip))
        while (got := cap.read())[0]:
            f = got[1]
            s = min(640 / f.shape[1], 480 / f.shape[0])
            small = cv2.resize(f, (int(f.shape[1] * s), int(f.shape[0] * s)))
            canvas = np.zeros((480, 640, 3), np.uint8)
            y, x = (480 - small.shape[0]) // 2, (640 - small.shape[1]) // 2
            canvas[y : y + small.shape[0], x : x + small.shape[1]] = small
            frames.append(canvas)
        cap.release()
    path.parent.mkdir(parents=True, exist_ok=True)
    out = cv2.VideoWriter(str(path.with_suffix(".part.mp4")), cv2.VideoWriter_fourcc(*"mp4v"),
                          30.0, (640, 480))  # fmt: skip
    for k in range(int(minutes * 60 * 30) + 60):
        out.write(frames[k % len(frames)])
    out.release()
    path.with_suffix(".part.mp4").rename(path)
    return path


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (MiB)."""
    total = 0.0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def playable_frames(path: Path) -> int:
    """Frames OpenCV decodes from a written video (0: not playable)."""
    cap, n = cv2.VideoCapture(str(path)), 0
    while cap.grab():
        n += 1
    cap.release()
    return n


def window(rows: list[dict], lo: float, hi: float) -> tuple[float, float]:
    """Median FPS and p95 latency of the label lines with lo <= t < hi."""
    got = [r for r in rows if "label" in r and lo <= r["t"] < hi]
    if not got:
        return float("nan"), float("nan")
    return (float(np.median([r["fps"] for r in got])),
            float(np.percentile([r["latency_ms"] for r in got], 95)))  # fmt: skip


def flaky_receiver(got: list[dict]) -> ThreadingHTTPServer:
    """A webhook on 127.0.0.1 that refuses 30 % of the requests and is slow with the rest."""
    rng = random.Random(0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if rng.random() < 0.3:
                self.send_response(503)
            else:
                time.sleep(rng.uniform(0.2, 2.0))
                got.append(json.loads(body))
                self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--model", default="builtin")
    p.add_argument("--runtime", default="torch")
    p.add_argument("--out", default=None, help="keep the outputs here (default: a temp folder)")
    p.add_argument("--alerts", action="store_true", help="alerts to a flaky, slow receiver")
    a = p.parse_args()
    got: list[dict] = []
    source = looped_source(a.minutes)
    seconds = a.minutes * 60
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(a.out or tmp)
        cmd = [sys.executable, "-m", "actrec", "live", a.model, f"source={source}",
               "realtime=true", "headless=true", f"duration={seconds:g}", "segment=60",
               f"out={out / 'live.mp4'}", f"log={out / 'live.jsonl'}",
               f"runtime={a.runtime}"]  # fmt: skip
        if a.alerts:
            server = flaky_receiver(got)
            cmd += [f"alert=http://127.0.0.1:{server.server_port}/hook",
                    f"alerts_dir={out / 'alerts'}"]  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        t0, samples = time.perf_counter(), []
        while proc.poll() is None:
            samples.append((time.perf_counter() - t0, rss_mib(proc.pid)))
            time.sleep(15)
        said = proc.stdout.read()
        if proc.returncode:
            raise SystemExit(f"live failed ({proc.returncode}):\n{said}")
        rows = []
        for log in sorted(out.glob("live_*.jsonl")):
            rows += [json.loads(line) for line in log.read_text().splitlines()]
        videos = sorted(out.glob("live_*.mp4"))
        logs = sorted(out.glob("live_*.jsonl"))
        playable = [playable_frames(v) for v in videos]
        spooled = len(list((out / "alerts" / "spool").rglob("*.json")))
    t, rss = np.array(samples).T
    late = t >= 120
    slope = np.polyfit(t[late] / 3600, rss[late], 1)[0] if late.sum() >= 2 else float("nan")
    first, last = window(rows, 0, 300), window(rows, seconds - 300, seconds)
    labels = sum("label" in r for r in rows)
    summary = [line for line in said.splitlines() if "frames labelled" in line]
    print(f"\nsoak: {a.model} ({a.runtime}), {a.minutes:g} min of a looped 640x480 30 fps file")
    print(f"  RSS {rss[late][0]:.0f} MiB at 2 min, {rss[-1]:.0f} MiB at the end; slope after "
          f"2 min {slope:+.1f} MiB/hour ({len(samples)} samples)")  # fmt: skip
    print(f"  first 5 min: {first[0]:.1f} FPS, p95 {first[1]:.0f} ms; last 5 min: "
          f"{last[0]:.1f} FPS, p95 {last[1]:.0f} ms")  # fmt: skip
    print(f"  {labels} label lines, {sum('event' in r for r in rows)} events; "
          f"{len(videos)} videos and {len(logs)} logs written; {sum(n > 0 for n in playable)} "
          f"videos play back, {sum(playable)} frames in all")  # fmt: skip
    print("  " + (summary[-1] if summary else said.strip().splitlines()[-1]))
    result = dict(minutes=a.minutes, model=a.model, runtime=a.runtime, rss=samples,
                  slope_mib_h=slope, first=first, last=last, labels=labels,
                  videos=len(videos), logs=len(logs), playable=playable)  # fmt: skip
    if a.alerts:
        ids = [m["id"] for m in got]
        kinds = {k: sum(m["type"] == k for m in got) for k in ("new", "update", "end")}
        result["alerts"] = dict(received=len(ids), unique=len(set(ids)), left=spooled, **kinds)
        print(f"  alerts: {len(set(ids))} messages received ({kinds}), "
              f"{len(ids) - len(set(ids))} duplicates, {spooled} left in the spool; "
              f"in order: {[m['seq'] for m in got] == sorted(m['seq'] for m in got)}")  # fmt: skip
    name = Path(a.model).stem if a.model != "builtin" else "builtin"
    tag = "_alerts" if a.alerts else ""
    (ROOT / "data" / "bench" / f"soak_{name}_{a.runtime}{tag}.json").write_text(
        json.dumps(result))  # fmt: skip


if __name__ == "__main__":
    main()
