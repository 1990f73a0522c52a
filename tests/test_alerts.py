"""Alerts with real parts: a local HTTP receiver on 127.0.0.1 and a Mosquitto broker started on a
free port; the spool on disk, a receiver down then up, actrec killed with messages waiting."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from actrec.alerts.receivers import Delivery, Webhook
from actrec.alerts.spool import Spool
from tests.conftest import SHARED

FALL = SHARED / "falls_dev" / "falling" / "Y-B-Class-Projects_Human-Fall-Detection__video_4.mp4"
MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path(
    "/usr/sbin/mosquitto").is_file() else None)  # fmt: skip


class Receiver:
    """A webhook on 127.0.0.1: answers 503 while `down`, else keeps each message (and when)."""

    def __init__(self, down: bool = False) -> None:
        self.down, self.got = down, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if outer.down:
                    self.send_response(503)
                else:
                    outer.got.append((time.time(), json.loads(body)))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, timeout: float) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if check():
            return True
        time.sleep(0.05)
    return check()


@pytest.mark.parametrize("down_s", [2.5, pytest.param(30.0, marks=pytest.mark.slow)])
def test_a_receiver_down_then_up_gets_every_message_once_in_order(tmp_path, down_s):
    receiver = Receiver(down=True)
    spool = Spool(tmp_path / "spool")
    delivery = Delivery(spool, Webhook(receiver.url))
    delivery.start()
    sent = [dict(type="new", id=f"m{i}", n=i) for i in range(20)]
    for m in sent[:10]:
        spool.put(m)
    time.sleep(down_s)  # down: tried, refused, kept (and tried again after longer pauses)
    assert receiver.got == [] and len(spool) == 10
    receiver.down = False
    for m in sent[10:]:
        spool.put(m)
    assert wait_for(lambda: len(receiver.got) == 20, 45)  # the pause is 30 s at most
    ids = [m["id"] for _, m in receiver.got]
    assert ids == [m["id"] for m in sent]  # each once, in order
    assert delivery.finish(5) == 0 and len(spool) == 0
    receiver.close()


def test_messages_spooled_when_actrec_is_killed_arrive_at_the_next_start(tmp_path):
    receiver = Receiver(down=True)
    # another process spools 5 messages for a receiver that is down, and is killed
    code = (f"import time, sys; sys.path.insert(0, {str(Path.cwd() / 'src')!r})\n"
            "from actrec.alerts.spool import Spool\n"
            "from actrec.alerts.receivers import Delivery, Webhook\n"
            f"s = Spool({str(tmp_path / 'spool')!r}); d = Delivery(s, Webhook({receiver.url!r}))\n"
            "d.start()\n"
            "[s.put(dict(type='new', id=f'k{i}')) for i in range(5)]\n"
            "print('spooled', flush=True); time.sleep(60)\n")  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "spooled"
    proc.kill()
    proc.wait()
    receiver.down = False
    spool = Spool(tmp_path / "spool")  # the next start
    assert len(spool) == 5
    delivery = Delivery(spool, Webhook(receiver.url))
    delivery.start()
    assert wait_for(lambda: len(receiver.got) == 5, 20)
    assert [m["id"] for _, m in receiver.got] == [f"k{i}" for i in range(5)]
    delivery.finish(2)
    receiver.close()


def test_the_spool_drops_the_oldest_snapshots_first_and_keeps_every_message(tmp_path):
    spool = Spool(tmp_path / "spool", limit_mb=0.05)
    big = base64.b64encode(np.random.default_rng(0).bytes(12_000)).decode()
    for i in range(8):
        spool.put(dict(type="new", id=f"s{i}", snapshot_jpeg=big))
    kept = [json.loads(p.read_text()) for p in sorted((tmp_path / "spool").glob("*.json"))]
    assert [m["id"] for m in kept] == [f"s{i}" for i in range(8)]
    assert kept[0]["snapshot_dropped"] and kept[-1]["snapshot_jpeg"] == big
    assert sum(p.stat().st_size for p in (tmp_path / "spool").glob("*.json")) <= 0.05 * 2**20


@pytest.mark.parametrize(
    "args",
    [
        ["alert=ftp://example.org/hook"],
        ["alert=http://127.0.0.1:99999/hook"],
        ["mqtt=mqtt:///actrec"],
        ["mqtt=http://127.0.0.1:1883"],
    ],
)
def test_a_bad_address_is_one_line_and_an_exit_before_the_watch_starts(args, tmp_path):
    t0 = time.time()
    p = subprocess.run([sys.executable, "-m", "actrec", "live", "builtin", "source=nope.mp4",
                        *args], capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert p.returncode != 0 and "Traceback" not in p.stderr
    lines = [x for x in (p.stdout + p.stderr).splitlines() if "alert=" in x or "mqtt=" in x]
    assert len(lines) == 1, p.stdout + p.stderr
    assert time.time() - t0 < 20  # before the model (and no camera) was opened


class Broker:
    """Mosquitto on a free port of 127.0.0.1, and a subscriber to everything under actrec/."""

    def __init__(self, folder: Path) -> None:
        import paho.mqtt.client as mqtt

        self.port = free_port()
        conf = folder / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)  # fmt: skip
        self.got: list[tuple[float, str, bytes, bool]] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_message = lambda c, u, m: self.got.append(
            (time.time(), m.topic, m.payload, m.retain))  # fmt: skip
        assert wait_for(self._connect, 10), "mosquitto did not start"
        self.client.subscribe("actrec/#", qos=1)
        self.client.loop_start()

    def _connect(self) -> bool:
        try:
            self.client.connect("127.0.0.1", self.port)
            return True
        except OSError:
            return False

    def close(self) -> None:
        self.client.loop_stop()
        self.proc.terminate()
        self.proc.wait(10)


@pytest.mark.skipif(not FALL.is_file(), reason="needs the development clips (../shared/data)")
def test_a_real_fall_reaches_the_webhook_and_mqtt_with_a_snapshot_and_a_clip(tmp_path):
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    from actrec import Model

    receiver, broker = Receiver(), Broker(tmp_path)
    log = tmp_path / "log.jsonl"
    watch = Model().live(str(FALL), headless=True, realtime=True, log=str(log), name="hall",
                         alert=receiver.url, mqtt=f"mqtt://127.0.0.1:{broker.port}/actrec",
                         alerts_dir=str(tmp_path / "alerts"), clip_s=2.0,
                         down_alert_s=3.0)  # fmt: skip
    seen_at = {}  # when each event appeared in the live log (wall clock)
    for update in watch:
        for e in update["events"]:
            seen_at.setdefault(e["event"], time.time())
    assert "falling" in seen_at
    assert wait_for(lambda: any(m["type"] == "end" for _, m in receiver.got), 15)
    got = [m for _, m in receiver.got]
    new = next(m for m in got if m["type"] == "new" and m["label"] == "falling")
    t_new = next(t for t, m in receiver.got if m is new)
    assert t_new - seen_at["falling"] <= 2.0
    jpeg = cv2.imdecode(np.frombuffer(base64.b64decode(new["snapshot_jpeg"]), np.uint8), 1)
    assert jpeg is not None and jpeg.shape[0] > 50
    assert new["source"] == "hall" and {"id", "person", "time", "start_s", "score"} <= set(new)
    end = next(m for m in got if m["type"] == "end" and m["event_id"] == new["event_id"])
    assert end["got_up"] is False and end["end_s"] >= new["start_s"]  # down to the clip's end
    cap = cv2.VideoCapture(end["clip"])
    ok, frame = cap.read()
    cap.release()
    assert ok and frame is not None
    assert len({m["id"] for m in got}) == len(got)  # each message once
    assert [m["seq"] for m in got] == sorted(m["seq"] for m in got)  # in the order made
    # MQTT: the same messages, the snapshot, person_down ON then OFF (retained)
    assert wait_for(lambda: any(b"\"end\"" in p for _, topic, p, _ in broker.got
                                if topic == "actrec/events"), 10)  # fmt: skip
    events = [json.loads(p) for _, topic, p, _ in broker.got if topic == "actrec/events"]
    assert [m["id"] for m in events] == [m["id"] for m in got]
    assert any(topic == "actrec/hall/snapshot" for _, topic, _, _ in broker.got)
    down = [p.decode() for _, topic, p, _ in broker.got if topic == "actrec/hall/person_down"]
    assert "ON" in down and down[-1] == "OFF" and "OFF" in down[down.index("ON") :]
    broker.close()
    receiver.close()


def test_alert_on_a_label_the_model_does_not_know_is_refused_with_a_hint(tmp_path):
    from actrec import Model
    from actrec.errors import ActrecError

    clip = tmp_path / "c.mp4"
    out = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    for _ in range(5):
        out.write(np.zeros((48, 64, 3), np.uint8))
    out.release()
    watch = Model().live(str(clip), headless=True, alert="http://127.0.0.1:9/",
                         alert_on="fallin,down", alerts_dir=str(tmp_path / "a"))  # fmt: skip
    with pytest.raises(ActrecError, match="did you mean 'falling'"):
        list(watch)


def test_a_workout_sets_end_alerts_with_its_count(tmp_path):
    from actrec.alerts.incidents import Alerter, AlertSettings

    receiver = Receiver()
    settings = AlertSettings(alert=receiver.url, name="gym", alert_on=("set",),
                             alerts_dir=str(tmp_path / "alerts"), clip_s=1.0)  # fmt: skip
    alerter = Alerter(settings, echo=lambda *_: None)
    frame = np.zeros((120, 160, 3), np.uint8)
    person = [(1, [10, 10, 60, 110], ("squat", 0.9, []))]
    for k in range(30):  # 3 s of a person squatting; their set of 12 ends at 2.5 s
        t = k / 10
        ended = [dict(t=t, id=1, exercise="squat", count=12)] if k == 25 else []
        alerter.step(t, frame, person, [], lambda pid: False, lambda pid: True, ended)
    alerter.close(3.0)
    got = [m for _, m in receiver.got]
    assert [m["type"] for m in got] == ["new", "end"]
    assert all(m["label"] == "set" and m["exercise"] == "squat" and m["count"] == 12
               for m in got)  # fmt: skip
    assert got[1]["clip"] and cv2.VideoCapture(got[1]["clip"]).read()[0]
    receiver.close()
