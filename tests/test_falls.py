"""Falls on the body itself (the top of the body and the hips dropping, then staying low), how
long a fallen person stays down, and live's "down" alert."""

from __future__ import annotations

import numpy as np
import pytest

from actrec.events import Body, DownWatch, down_after, merge_falls, physical_falls
from tests.conftest import SHARED

FPS = 10.0


def track(top, hip, height, seconds: float, head_seen: bool = True) -> dict:
    """A person's keypoints over `seconds` at 10 fps: functions of time give the top of the
    body, the hips and the box height in pixels (image y grows downwards)."""
    t = np.arange(0, seconds, 1 / FPS)
    top, hip, h = np.array([top(x) for x in t]), np.array([hip(x) for x in t]), np.array(
        [height(x) for x in t])  # fmt: skip
    xy = np.zeros((len(t), 17, 2))
    xy[..., 0] = 300.0
    xy[:, 0:5, 1] = top[:, None]  # the head
    xy[:, 5:11, 1] = (top + 0.2 * (hip - top))[:, None]  # shoulders, arms hanging by them
    xy[:, 11:13, 1] = hip[:, None]
    xy[:, 13:17, 1] = (hip + 0.6 * (hip - top).clip(10))[:, None]  # knees and ankles below
    conf = np.ones((len(t), 17))
    if not head_seen:
        conf[:, 0:5] = 0.0
    bottom = xy[..., 1].max(1)
    boxes = np.stack([np.full_like(t, 250), bottom - h, np.full_like(t, 350), bottom], 1)
    return dict(times=t, xy=xy, conf=conf, boxes=boxes)


def ramp(a: float, b: float, t0: float, t1: float):
    """a until t0, then linearly to b at t1, b after."""
    return lambda x: a + (b - a) * min(1.0, max(0.0, (x - t0) / (t1 - t0)))


def body(tr: dict) -> Body:
    return Body.of(tr["times"], tr["xy"], tr["conf"], tr["boxes"])


def test_a_fall_toward_the_camera_is_found_where_it_happens():
    # the body shortens in the image instead of turning sideways: the box shrinks as it falls
    tr = track(ramp(100, 330, 2.0, 2.8), ramp(250, 345, 2.0, 2.8), ramp(300, 120, 2.0, 2.8), 6)
    falls = physical_falls(body(tr))
    assert len(falls) == 1
    assert 1.3 <= falls[0]["start_s"] <= 2.2 and 2.3 <= falls[0]["end_s"] <= 2.9


def test_a_fall_with_the_head_out_of_frame_is_found():
    tr = track(ramp(100, 330, 3.0, 3.9), ramp(250, 345, 3.0, 3.9), ramp(300, 90, 3.0, 3.9), 6,
               head_seen=False)  # fmt: skip
    falls = physical_falls(body(tr))
    assert len(falls) == 1 and 2.3 <= falls[0]["start_s"] <= 3.2


@pytest.mark.parametrize(("what", "top", "hip"), [
    ("lying down slowly on a bed", ramp(100, 260, 1.0, 5.0), ramp(250, 280, 1.0, 5.0)),
    ("sitting down", ramp(100, 190, 1.0, 2.0), ramp(250, 320, 1.0, 2.0)),
    ("bending to pick something up", ramp(100, 260, 1.0, 1.8), ramp(250, 260, 1.0, 1.8)),
])  # fmt: skip
def test_what_is_not_a_fall_gives_none(what, top, hip):
    assert physical_falls(body(track(top, hip, lambda x: 300.0, 7))) == [], what


def test_a_squat_comes_back_up_and_is_no_fall():
    down_up = lambda x: 100 + 150 * np.sin(np.pi * min(1, max(0, x - 1)))  # noqa: E731
    hips = lambda x: 250 + 110 * np.sin(np.pi * min(1, max(0, x - 1)))  # noqa: E731
    assert physical_falls(body(track(down_up, hips, lambda x: 300.0, 5))) == []


def test_down_s_and_got_up_after_a_fall():
    stays = track(ramp(100, 330, 2.0, 2.8), ramp(250, 345, 2.0, 2.8), lambda x: 300.0, 10)
    (fall,) = physical_falls(body(stays))
    down_s, got_up = down_after(body(stays), fall, video_end=10.0)
    assert got_up is False and down_s == pytest.approx(10.0 - fall["end_s"], abs=0.3)

    up_at = lambda f: lambda x: f(x) if x < 8.0 else f(0)  # noqa: E731
    gets_up = track(up_at(ramp(100, 330, 2.0, 2.8)), up_at(ramp(250, 345, 2.0, 2.8)),
                    lambda x: 300.0, 12)  # fmt: skip
    (fall,) = physical_falls(body(gets_up))
    down_s, got_up = down_after(body(gets_up), fall, video_end=12.0)
    assert got_up is True and down_s == pytest.approx(8.0 - fall["end_s"], abs=0.3)

    gone = {k: v[: int(7 * FPS)] for k, v in stays.items()}  # the track ends 3 s before the video
    assert down_after(body(gone), fall, video_end=10.0)[1] is None


def test_the_heads_fall_and_the_bodys_are_one_event():
    head = [dict(label="falling", start_s=1.6, end_s=2.4, score=0.7)]
    seen = [dict(label="falling", start_s=1.8, end_s=2.8, score=0.9)]
    assert merge_falls(head, seen) == [dict(label="falling", start_s=1.6, end_s=2.4, score=0.9)]
    later = [dict(label="falling", start_s=9.0, end_s=9.8, score=0.8)]
    assert len(merge_falls(head, later)) == 2


def test_synthetic_falls_are_found_and_lying_sitting_walking_are_not():
    from actrec.synthetic.skeleton import skeleton_clip

    rng = np.random.default_rng(0)

    def found(action: str, n: int) -> int:
        return sum(bool(physical_falls(body(skeleton_clip(action, rng)))) for _ in range(n))

    assert found("falling", 40) >= 34  # falls from every direction, the camera anywhere
    for action in ("lying", "sitting", "walking", "standing", "waving_one_hand"):
        assert found(action, 20) <= 1, action


def test_a_fallen_person_is_down_until_up_and_said_once_after_alert_s():
    tr = track(ramp(100, 330, 2.0, 2.8), ramp(250, 345, 2.0, 2.8), lambda x: 300.0, 3)
    watch = DownWatch(alert_s=5.0)
    watch.fell(3, 2.8, body(tr))
    assert watch.down(3) and watch.update(3, 4.0, 330.0) is None
    said = [e for t in np.arange(4.0, 12.0, 0.1) if (e := watch.update(3, float(t), 330.0))]
    assert said == [dict(t=pytest.approx(7.8, abs=0.11), id=3, event="down",
                         down_s=pytest.approx(5.0, abs=0.11))]  # fmt: skip
    assert watch.update(3, 12.5, 105.0) is None and not watch.down(3)  # up again


FALL = SHARED / "falls_dev" / "falling" / "Y-B-Class-Projects_Human-Fall-Detection__video_4.mp4"


@pytest.mark.skipif(not FALL.is_file(), reason="needs the development clips (../shared/data)")
def test_a_real_fall_says_how_long_the_person_stayed_down_and_live_says_down(tmp_path, capsys):
    import json

    from actrec import Model

    model = Model(echo=print)
    falls = [e for e in model.predict(str(FALL)).events if e.label == "falling"]
    assert falls and falls[0].down_s > 5 and falls[0].got_up is False  # on the floor to the end
    log = tmp_path / "log.jsonl"
    watch = model.live(str(FALL), headless=True, realtime=False, log=str(log), down_alert_s=5)
    events = [e for u in watch for e in u["events"]]
    theirs = [e["event"] for e in events if e["id"] == falls[0].id]
    assert "falling" in theirs and "down" in theirs[theirs.index("falling") :]  # down after it
    assert "down for 5 s" in capsys.readouterr().out
    logged = [json.loads(x) for x in log.read_text().splitlines()]
    assert any(x.get("event") == "down" and x["down_s"] >= 5 for x in logged)
