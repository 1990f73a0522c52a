"""One-off actions as events: found on window scores, in predict's JSON, as live alerts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from actrec.bundle import make_bundle
from actrec.events import Alerts, find_events
from actrec.head import GRUHead

CLASSES = ["walking", "falling", "lying"]


def _windows(duration: float, window: float = 3.2, stride: float = 0.5):
    starts = np.arange(0, duration - window + 1e-6, stride)
    return starts, starts + window


def _probs(starts, ends, spans: list[tuple[float, float]]) -> np.ndarray:
    """Walking, except windows holding a whole (start, end) span are falling; lying after."""
    p = np.tile([0.8, 0.1, 0.1], (len(starts), 1))
    for a, b in spans:
        p[(starts <= a) & (ends >= b)] = [0.1, 0.8, 0.1]
        p[starts > b] = [0.1, 0.1, 0.8]
    return p


def test_a_fall_seen_by_several_windows_is_one_event_where_they_overlap():
    starts, ends = _windows(12.0)
    events = find_events(_probs(starts, ends, [(5.0, 6.0)]), starts, ends, CLASSES, 0.4)
    assert len(events) == 1
    e = events[0]
    assert e["label"] == "falling" and e["score"] == pytest.approx(0.8)
    assert 5.0 - 1 <= e["start_s"] <= 5.0 and 6.0 <= e["end_s"] <= 6.0 + 1  # within ±1 s


def test_two_falls_apart_are_two_events_and_states_or_weak_scores_are_none():
    starts, ends = _windows(20.0)
    p = _probs(starts, ends, [(3.5, 4.5)])
    p[(starts <= 14.0) & (ends >= 15.0)] = [0.1, 0.8, 0.1]  # up again, and down again
    events = find_events(p, starts, ends, CLASSES, 0.4)
    assert [e["label"] for e in events] == ["falling", "falling"]
    assert events[0]["end_s"] < events[1]["start_s"]
    assert find_events(p, starts, ends, CLASSES, 0.9) == []  # under the threshold
    assert find_events(p, starts, ends, ["walking", "running", "lying"], 0.4) == []  # no events


def test_live_alerts_fire_once_per_event_and_are_held_a_few_seconds():
    alerts = Alerts(hold_s=3.0, quiet_s=3.2)
    fired = [alerts(7, t / 10, "falling", 0.9) for t in range(20)]  # 2 s of "falling"
    assert sum(f is not None for f in fired) == 1 and fired[0]["event"] == "falling"
    assert alerts.shown(7, 2.9) == ("falling", 0.9) and alerts.shown(7, 3.5) is None
    assert alerts(7, 3.0, "lying", 0.8) is None  # a state is no event
    assert alerts(7, 9.0, "falling", 0.7) is not None  # later, a new fall
    assert alerts(8, 9.0, "walking", 0.9) is None


@pytest.fixture(scope="module")
def falling_bundle(tmp_path_factory):
    """A person model whose head says 'falling' whatever it sees (a bias, no weights)."""
    from actrec.backbone import Backbone
    from actrec.config import FeatureSettings, PeopleSettings
    from actrec.people import People

    people = People(Backbone(FeatureSettings(imgsz=64, layers=[4, 6])),
                    PeopleSettings(enabled=True, min_track=0.5))  # fmt: skip
    head = GRUHead(people.feature_dim, 3, hidden=8, clip_norm=False)
    with torch.no_grad():
        head.classify[1].weight.zero_()
        head.classify[1].bias.copy_(torch.tensor([0.0, 6.0, 0.0]))
    bundle = make_bundle(head, CLASSES, people.describe(), dict(fps=10.0, window=8),
                         dict(stride=0.5, threshold=0.4))  # fmt: skip
    path = tmp_path_factory.mktemp("events") / "model.pt"
    torch.save(bundle, path)
    return path


def test_predict_reports_events_per_person_and_for_the_clip(falling_bundle, tmp_path):
    from actrec.options import PredictOptions
    from actrec.predict import predict_video
    from tests.conftest import two_people_clip

    clip = two_people_clip(tmp_path / "two.mp4", frames=20)
    r = predict_video(falling_bundle, clip, PredictOptions(json=str(tmp_path / "t.json")))
    saved = json.loads((tmp_path / "t.json").read_text())
    assert len(saved["people"]) == 2
    for p in saved["people"]:
        (e,) = p["events"]  # overlapping windows of one person: one event
        assert e["label"] == "falling" and p["start_s"] <= e["start_s"] <= e["end_s"] <= p["end_s"]
    assert sorted(e["id"] for e in saved["events"]) == sorted(p["id"] for p in r["people"])


def test_live_logs_one_line_per_event_and_draws_the_alert(falling_bundle, tmp_path):
    from actrec.live import run_live
    from actrec.options import LiveOptions
    from tests.conftest import two_people_clip

    clip = two_people_clip(tmp_path / "two.mp4", frames=20)
    log, out = tmp_path / "l.jsonl", tmp_path / "o.mp4"
    opts = LiveOptions(source=str(clip), realtime=False, headless=True, log=str(log), out=str(out))
    r = run_live(falling_bundle, opts, echo=lambda *_: None)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    events = [row for row in rows if "event" in row]
    assert len(events) == len({row["id"] for row in events}) == 2 == len(r["events"])
    assert {row["event"] for row in events} == {"falling"}
    import cv2

    cap = cv2.VideoCapture(str(out))
    try:  # released: its decoder threads must not outlive the test (later tests fork workers)
        frames = [cap.read()[1] for _ in range(10)]
    finally:
        cap.release()
    red = [((f[..., 2] > 200) & (f[..., 1] < 60) & (f[..., 0] < 60)).sum() for f in frames]
    assert max(red) > 100  # the alert's red box is drawn over the people
