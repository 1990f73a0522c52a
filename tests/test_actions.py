"""The synthetic actions that take the body off its feet: falls, sitting, lying, workouts,
fights. Shapes, determinism, and where the body meets the floor."""

from __future__ import annotations

import numpy as np
import pytest

from actrec.synthetic.actions import CLASSES, NEW, ONE_OFF, motion
from actrec.synthetic.body import draw_body, pose_3d
from actrec.synthetic.skeleton import skeleton_clip

HIPS, WRISTS, ANKLES = [11, 12], [9, 10], [15, 16]
T = np.arange(0, 3.2, 0.1)


def _joints(action: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    body = draw_body(rng)
    return pose_3d(body, motion(action, T, rng))  # (T, 20, 3) metres, y up


def _pelvis(j: np.ndarray) -> np.ndarray:
    return j[:, HIPS, 1].mean(1)


def _lower_hip(j: np.ndarray) -> np.ndarray:
    """The hip nearer the floor (on a side, the other lies a pelvis's width above it)."""
    return j[:, HIPS, 1].min(1)


@pytest.mark.parametrize("action", NEW)
def test_each_new_action_is_a_body_on_the_floor_or_a_bar_and_repeats_for_a_seed(action):
    j = _joints(action)
    assert j.shape == (len(T), 20, 3) and np.isfinite(j).all()
    assert np.array_equal(j, _joints(action)) and not np.array_equal(j, _joints(action, 1))
    low = j[..., 1].min(1)  # (T,) the lowest point of the body
    assert (low > -1e-6).all()  # never through the floor
    if action == "pull_up":
        assert (low > 0.05).all()  # hanging: the feet are off the floor
    else:
        assert np.abs(low).max() < 0.12  # resting on the floor (joints lie inside the body)


def test_a_fall_ends_with_the_pelvis_near_the_floor():
    for seed in range(8):
        j = _joints("falling", seed)
        start, end = _pelvis(j)[0], _lower_hip(j)[-1]
        assert start > 0.7 and end < 0.3, (seed, start, end)  # standing, then on the floor


def test_lying_stays_down_and_sitting_is_a_seat_high():
    for seed in range(20):
        assert (_lower_hip(_joints("lying", seed)) < 0.35).all()
        seated = _pelvis(_joints("sitting", seed))
        assert ((seated > 0.3) & (seated < 0.75)).all()


def test_sitting_down_lowers_the_pelvis_and_standing_up_raises_it():
    for seed in range(5):
        down, up = _pelvis(_joints("sitting_down", seed)), _pelvis(_joints("standing_up", seed))
        assert down[0] - down[-1] > 0.2 and up[-1] - up[0] > 0.2


def test_workouts_move_the_body_as_they_should():
    push = _joints("push_up")
    assert push[:, WRISTS, 1].max() < 0.12 and push[:, ANKLES, 1].min() < 0.12  # hands and toes
    assert np.ptp(push[:, [5, 6], 1].mean(1)) > 0.08  # the shoulders go down and up
    pull = _joints("pull_up")
    assert np.ptp(pull[:, WRISTS, 1].mean(1)) < 1e-6  # the hands hold the bar
    assert np.ptp(_pelvis(pull)) > 0.2  # the body rises and sinks
    squat = _joints("squat")
    assert np.ptp(_pelvis(squat)) > 0.2 and squat[:, ANKLES, 1].min() < 0.12


def test_one_off_actions_are_the_events_and_their_clips_hold_them_whole():
    assert set(CLASSES[: len(CLASSES) - len(NEW)]).isdisjoint(NEW)
    for action in ONE_OFF:
        c = skeleton_clip(action, np.random.default_rng(0))
        assert 2.0 <= c["times"][-1] <= 3.4  # about a window: a training crop holds it


def test_the_built_in_model_finds_one_fall_where_a_synthetic_person_falls():
    """A person who walks or stands, falls and lies still (an 8 s clip, never seen in training:
    another seed), through the real videos' features and predict's windows: one fall event,
    within a second of where it happens, and no second one while they lie there."""
    from actrec.bundle import head_from_bundle, load_bundle
    from actrec.events import find_events
    from actrec.head import score_windows, window_starts
    from actrec.synthetic.builtin import skeleton_features
    from actrec.synthetic.skeleton import detect, draw_camera, film

    b = load_bundle("builtin")
    head, s, parts = head_from_bundle(b), b["sample"], b["backbone"]["people"]["parts"]
    right = 0
    for seed in range(6):
        rng = np.random.default_rng([99, seed])
        t = np.arange(0, 8, 1 / s["fps"])
        body, cam = draw_body(rng), draw_camera(rng)
        m = motion("falling", t, rng)
        joints = pose_3d(body, m)
        uv, away = film(joints, m["speed"], t, body.height, cam)
        clip = detect(uv, away, cam, t, rng, level=False)
        hips = joints[:, HIPS, 1].mean(1)
        fell = float(t[np.argmax(hips < (hips[0] + hips[-1]) / 2)])  # halfway down
        feats = skeleton_features(clip, s["fps"], parts)
        starts = window_starts(len(feats), s["window"], round(b["predict"]["stride"] * s["fps"]))
        probs = score_windows(head, feats, s["window"], starts)
        times = np.asarray(clip["times"])
        t0 = np.array([times[0] + k / s["fps"] for k in starts])
        found = find_events(probs, t0, t0 + s["window"] / s["fps"], b["classes"],
                            b["predict"]["threshold"])  # fmt: skip
        events = [e for e in found if e["label"] == "falling"]
        right += len(events) == 1 and events[0]["start_s"] - 1 <= fell <= events[0]["end_s"] + 1
    assert right >= 5, right
