"""live for days: outputs cut into numbered segments, streams that come back after an outage."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from actrec.live import run_live
from actrec.options import LiveOptions
from tests.conftest import write_clip


def _frames(path: str) -> int:
    cap = cv2.VideoCapture(path)
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def test_segment_cuts_out_and_log_into_complete_numbered_files(run, tmp_path):
    """segment=1 over a 3.2 s clip: four playable videos and four logs, numbered, the logs'
    label lines adding up to the frames labelled, the summary naming every file."""
    model = Path(run["run_dir"]) / "model.pt"
    clip = write_clip(tmp_path / "c.mp4", n=80, size=(96, 64), fps=25.0)
    opts = LiveOptions(
        source=str(clip),
        realtime=False,
        headless=True,
        segment=1.0,
        out=str(tmp_path / "o" / "out.mp4"),
        log=str(tmp_path / "o" / "log.jsonl"),
    )
    r = run_live(model, opts, echo=lambda *_: None)
    videos = sorted((tmp_path / "o").glob("out_*.mp4"))
    logs = sorted((tmp_path / "o").glob("log_*.jsonl"))
    assert [p.name for p in videos] == [f"out_{k:03d}.mp4" for k in range(4)]
    assert [p.name for p in logs] == [f"log_{k:03d}.jsonl" for k in range(4)]
    assert sorted(r["files"]) == sorted(map(str, videos + logs))
    assert not list((tmp_path / "o").glob("*.part*"))  # every video closed and renamed
    assert sum(_frames(str(v)) for v in videos) == 80  # each playable, none lost between
    lines = [json.loads(x) for p in logs for x in p.read_text().splitlines()]
    assert len(lines) == r["labelled"] > 0
    for k, p in enumerate(logs):  # each log holds its own second of the source
        ts = [json.loads(x)["t"] for x in p.read_text().splitlines()]
        assert ts and k <= min(ts) and max(ts) < k + 1


def test_without_segment_the_outputs_are_one_video_and_one_log(run, tmp_path):
    model = Path(run["run_dir"]) / "model.pt"
    clip = write_clip(tmp_path / "c.mp4", n=30, size=(96, 64), fps=25.0)
    opts = LiveOptions(source=str(clip), realtime=False, headless=True,
                       out=str(tmp_path / "out.mp4"), log=str(tmp_path / "log.jsonl"))  # fmt: skip
    r = run_live(model, opts, echo=lambda *_: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mp4", "log.jsonl", "out.mp4"]
    assert "files" not in r and _frames(str(tmp_path / "out.mp4")) == 30


class _Camera(BaseHTTPRequestHandler):
    """An MJPEG camera over HTTP that goes away (503) while the server's `down` is set."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.server.down.is_set():
            self.send_error(503)
            return
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        i = 0
        try:
            while not self.server.down.is_set() and not self.server.closing:
                img = np.full((48, 64, 3), 40, np.uint8)
                cv2.rectangle(img, (i % 50, 10), (i % 50 + 10, 30), (0, 200, 255), -1)
                jpg = cv2.imencode(".jpg", img)[1].tobytes()
                self.wfile.write(
                    b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                    + str(len(jpg)).encode()
                    + b"\r\n\r\n"
                    + jpg
                    + b"\r\n"
                )
                i += 1
                time.sleep(1 / 25)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def camera():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Camera)
    server.down, server.closing, server.daemon_threads = threading.Event(), False, True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.closing = True
    server.shutdown()
    server.server_close()


def test_a_stream_that_stops_for_10_s_comes_back_and_live_goes_on(run, camera, tmp_path):
    """The camera serves 3 s, is away 10 s, comes back: live says so once per attempt and
    once when it is back, labels again with fresh state, and ends at duration=."""
    model = Path(run["run_dir"]) / "model.pt"
    url = f"http://127.0.0.1:{camera.server_address[1]}/video.mjpg"

    def outage() -> None:
        time.sleep(3)
        camera.down.set()
        time.sleep(10)
        camera.down.clear()

    said: list[str] = []
    log = tmp_path / "live.jsonl"
    threading.Thread(target=outage, daemon=True).start()
    opts = LiveOptions(source=url, headless=True, log=str(log), duration=22.0)
    r = run_live(model, opts, echo=said.append)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    notices = [row for row in rows if "notice" in row]
    lost = [n for n in notices if "lost" in n["notice"]]
    back = [n for n in notices if "back" in n["notice"]]
    assert len(back) == 1 and 1 <= len(lost) <= 5  # pauses of 1, 2, 4, 8 s span the outage
    assert [s for s in said if "live: source" in s] == [f"live: {n['notice']}" for n in notices]
    labels = [row["t"] for row in rows if "label" in row]
    assert any(t < lost[0]["t"] for t in labels) and any(t > back[0]["t"] for t in labels)
    assert 21.5 <= r["seconds"] <= 24.0  # duration= holds while the stream is away too
