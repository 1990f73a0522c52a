"""Where alerts go: a webhook (JSON POSTs) and an MQTT broker, and the thread that delivers a
spool to one of them.

After `alerts.spool` (each receiver drains its own spool, in order). `check_url` refuses a
malformed address before the watch starts. A receiver that is down, slow or answers 5xx keeps
the message in the spool; it is tried again after pauses growing to 30 s, and the same message
(the same `id`) is sent again, so a receiver can drop duplicates.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from actrec.alerts.spool import Spool
from actrec.errors import ActrecError

log = logging.getLogger("actrec")
TIMEOUT_S = 10.0  # a receiver slower than this is tried again later
MAX_PAUSE_S = 30.0


def check_url(url: str, schemes: tuple[str, ...], what: str) -> tuple[str, str, int, str]:
    """→ (scheme, host, port, path) of a receiver's address, or one clear error."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port out of range
    except ValueError as e:
        raise ActrecError(f"{what}{url}: {e}") from None
    if parts.scheme not in schemes:
        raise ActrecError(f"{what}{url}: the address must start with "
                          f"{' or '.join(s + '://' for s in schemes)}")  # fmt: skip
    if not parts.hostname:
        raise ActrecError(f"{what}{url}: no host in the address")
    default = {"http": 80, "https": 443, "mqtt": 1883, "mqtts": 8883}[parts.scheme]
    return parts.scheme, parts.hostname, port or default, parts.path


class Webhook:
    """POSTs each message as JSON to `url`; delivered when it answers 2xx."""

    def __init__(self, url: str) -> None:
        check_url(url, ("http", "https"), "alert=")
        self.url, self.name = url, f"webhook {url}"

    def send(self, message: dict) -> None:
        body = json.dumps(message, ensure_ascii=False).encode()
        req = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as answer:  # raises on 4xx/5xx
            answer.read()

    def close(self) -> None:
        pass


class Mqtt:
    """Publishes each message on `<prefix>/events` (QoS 1), a new one's snapshot on
    `<prefix>/<source>/snapshot`, and `<prefix>/<source>/person_down` (retained) ON while
    someone is down, OFF once nobody is; paho-mqtt's own thread keeps the connection."""

    def __init__(self, url: str) -> None:
        import paho.mqtt.client as mqtt

        scheme, host, port, path = check_url(url, ("mqtt", "mqtts"), "mqtt=")
        self.prefix, self.name = path.strip("/") or "actrec", f"MQTT {url}"
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        if scheme == "mqtts":
            self.client.tls_set()
        self.client.reconnect_delay_set(1, int(MAX_PAUSE_S))
        self.client.connect_async(host, port)
        self.client.loop_start()

    def send(self, message: dict) -> None:
        if not self.client.is_connected():
            raise ConnectionError("not connected to the broker")
        source = message.get("source", "camera")
        self._publish(f"{self.prefix}/events", json.dumps(message, ensure_ascii=False))
        if message.get("snapshot_jpeg"):
            jpeg = base64.b64decode(message["snapshot_jpeg"])
            self._publish(f"{self.prefix}/{source}/snapshot", jpeg, retain=True)
        if "down_now" in message:  # for Home Assistant: a binary sensor that clears
            state = "ON" if message["down_now"] else "OFF"
            self._publish(f"{self.prefix}/{source}/person_down", state, retain=True)

    def _publish(self, topic: str, payload, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(TIMEOUT_S)
        if not info.is_published():
            raise TimeoutError(f"the broker did not take {topic} in {TIMEOUT_S:.0f} s")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class Delivery(threading.Thread):
    """Drains one spool into one receiver, oldest first, beside the video loop."""

    def __init__(self, spool: Spool, receiver) -> None:
        super().__init__(daemon=True, name=f"actrec-alerts-{receiver.name}")
        self.spool, self.receiver = spool, receiver
        self.stopping = threading.Event()
        self.failing = False  # said once per outage
        self.delivered = 0

    def run(self) -> None:
        pause = 1.0
        while not self.stopping.is_set():
            item = self.spool.peek()
            if item is None:
                self.spool.wait(0.5)
                continue
            path, message = item
            try:
                self.receiver.send(message)
            except (OSError, urllib.error.URLError, ValueError, TimeoutError) as e:
                if not self.failing:
                    self.failing = True
                    log.warning("alerts: %s: %s; kept in the spool, trying again",
                                self.receiver.name, _reason(e))  # fmt: skip
                self.stopping.wait(pause)
                pause = min(pause * 2, MAX_PAUSE_S)
                continue
            self.spool.done(path)
            self.delivered += 1
            if self.failing:
                self.failing = False
                log.warning("alerts: %s is back: %d waiting", self.receiver.name, len(self.spool))
            pause = 1.0

    def finish(self, timeout: float) -> int:
        """Deliver what is left for up to `timeout` s, then stop; → messages still spooled
        (sent at the next start)."""
        end = threading.Event()
        waited = 0.0
        while len(self.spool) and waited < timeout and not self.failing:
            end.wait(0.1)
            waited += 0.1
        self.stopping.set()
        self.join(TIMEOUT_S + 1)
        self.receiver.close()
        return len(self.spool)


def _reason(e: Exception) -> str:
    if isinstance(e, urllib.error.HTTPError):
        return f"answered {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError):
        return f"cannot be reached ({e.reason})"
    return str(e) or type(e).__name__
