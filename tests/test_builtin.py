"""The built-in model: synthetic skeletons, one normalisation for both paths, no-model predict."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch

import actrec.bundle as bundle_mod
from actrec.bundle import BUILTIN_MODEL, head_from_bundle, load_bundle
from actrec.errors import ActrecError
from actrec.head import UNSURE, score_windows, video_label, window_starts
from actrec.options import BuiltinOptions, PredictOptions
from actrec.pose import PART_DIMS
from actrec.predict import predict_video
from actrec.synthetic.actions import CLASSES, motion
from actrec.synthetic.body import draw_body, pose_3d
from actrec.synthetic.builtin import skeleton_features, train_builtin
from actrec.synthetic.skeleton import (
    draw_camera,
    film,
    read,
    skeleton_clip,
    skeleton_dataset,
    write,
)
from tests.conftest import two_people_clip

PARTS = ["pose", "velocity", "box"]


def test_a_skeleton_clip_looks_like_a_tracked_person():
    for action in CLASSES:
        c = skeleton_clip(action, np.random.default_rng(1), seconds=4.0)
        n = len(c["times"])
        assert 20 <= n <= 40 and np.all(np.diff(c["times"]) > 0)  # at most 10 fps, frames dropped
        assert c["xy"].shape == (n, 17, 2) and c["conf"].shape == (n, 17)
        assert c["boxes"].shape == (n, 4) and (c["boxes"][:, 2:] > c["boxes"][:, :2]).all()
        assert ((c["conf"] >= 0) & (c["conf"] <= 1)).all()


def test_the_same_seed_gives_the_same_skeletons():
    a, la = skeleton_dataset(CLASSES[:3], 4, seed=7)
    b, lb = skeleton_dataset(CLASSES[:3], 4, seed=7)
    c, _ = skeleton_dataset(CLASSES[:3], 4, seed=8)
    assert la == lb == [0] * 4 + [1] * 4 + [2] * 4
    assert all(np.array_equal(x["xy"], y["xy"]) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0]["xy"], c[0]["xy"])


def test_the_camera_yaw_changes_what_the_2d_keypoints_show():
    """A walker filmed side on swings the feet across the image; filmed head on, the same
    steps go towards the camera and the feet barely move sideways."""
    rng = np.random.default_rng(0)
    t = np.arange(0, 3, 0.1)
    body = draw_body(rng)
    joints = pose_3d(body, motion("walking", t, rng))
    cam = replace(draw_camera(rng), in_place=True, crop=None, px_h=300.0, tilt=0.0)
    spread = {}
    for name, yaw in (("front", 0.0), ("side", np.pi / 2)):
        uv, _ = film(joints, np.zeros_like(t), t, body.height, replace(cam, yaw=yaw))
        feet = uv[:, 15, 0] - uv[:, 16, 0]  # left minus right ankle, pixels
        spread[name] = np.ptp(feet)
    assert spread["side"] > 3 * spread["front"]


def test_a_high_jump_stays_in_the_air_as_long_as_gravity_allows():
    """Separate high jumps (the kind filmed for sport): the hips leave the ground for the
    flight time of a body thrown that high, 2 sqrt(2 h / g), and come back down."""
    t = np.arange(0, 8, 0.01)
    high = 0
    for seed in range(40):
        lift = motion("jumping_in_place", t, np.random.default_rng(seed))["lift"]
        assert lift.min() >= 0 and lift.max() <= 0.55
        if lift.max() <= 0.36:  # a steady bounce (at most 0.35 m)
            continue
        high += 1
        up = np.flatnonzero(np.diff((lift > 0).astype(int)) == 1)  # take-offs
        down = np.flatnonzero(np.diff((lift > 0).astype(int)) == -1)  # landings
        first = down[down > up[0]][0] - up[0]
        assert abs(first * 0.01 - 2 * np.sqrt(2 * lift.max() / 9.81)) < 0.05
    assert high >= 2


def test_slow_motion_slows_the_action_not_the_camera():
    """Sports clips are often slow motion: the frames come as often, the body moves less
    between them."""
    for seed in range(4):
        moved = {}
        for slow in (1.0, 3.0):  # the same person, camera and detector noise
            c = skeleton_clip("running", np.random.default_rng(seed), seconds=4.0, slow=slow)
            seen = c["conf"][:, 9:11] >= 0.5  # (N, 2) the wrists
            step = np.abs(np.diff(c["xy"][:, 9:11], axis=0))[seen[1:] & seen[:-1]]  # pixels
            height = np.median(c["boxes"][:, 3] - c["boxes"][:, 1])
            moved[slow] = (np.median(np.diff(c["times"])), step.mean() / height)
        assert moved[1.0][0] == moved[3.0][0]  # frames as often
        assert moved[3.0][1] < 0.75 * moved[1.0][1]  # the jitter between frames stays


def test_some_skeleton_clips_are_short_as_phone_clips_are():
    clips, _ = skeleton_dataset(CLASSES, 12, seed=2)
    spans = np.array([c["times"][-1] - c["times"][0] for c in clips])
    assert 0.03 < (spans < 2.9).mean() < 0.4 and spans.min() >= 0.5


def test_dropped_joints_are_reported_as_ultralytics_does_and_masked():
    clips, _ = skeleton_dataset(CLASSES, 3, seed=3)
    xy = np.concatenate([c["xy"] for c in clips])
    conf = np.concatenate([c["conf"] for c in clips])
    low = conf < 0.5
    assert 0.02 < low.mean() < 0.6  # some joints drop out, most do not
    assert (xy[low] == 0).all() and (xy[~low] != 0).any(axis=-1).all()  # (0, 0) when missing
    c = clips[0]
    f = skeleton_features(c, 10.0, PARTS)
    mask = f[:, 2 * 17 : 3 * 17]
    assert set(np.unique(mask)) <= {0.0, 1.0} and mask.mean() < 1.0


def test_skeletons_and_real_tracks_share_one_normalisation(tmp_path):
    """The features predict computes for a tracked person are those the built-in model's
    training computes from the same track's keypoints."""
    from actrec.backbone import Backbone
    from actrec.config import FeatureSettings, PeopleSettings
    from actrec.features import video_features
    from actrec.people import People

    people = People(Backbone(FeatureSettings(imgsz=64, layers=[4, 6])),
                    PeopleSettings(enabled=True, min_track=0.5))  # fmt: skip
    v = video_features(str(two_people_clip(tmp_path / "two.mp4")), people, 10.0, progress=False)
    for track in v.tracks:
        raw = {k: track[k] for k in ("times", "xy", "conf", "boxes")}
        assert np.allclose(skeleton_features(raw, 10.0, PARTS), track["feats"], atol=1e-5)
    # and it does not care where or how large the person is
    c = skeleton_clip("waving_both_hands", np.random.default_rng(2))
    moved = dict(c, xy=np.where(c["xy"] != 0, c["xy"] * 1.7 + 40, 0), boxes=c["boxes"] * 1.7 + 40)
    assert np.allclose(skeleton_features(c, 10.0, PARTS), skeleton_features(moved, 10.0, PARTS),
                       atol=1e-4)  # fmt: skip


def test_skeletons_are_written_and_read_back(tmp_path):
    path = write(tmp_path, ["walking", "standing"], 3, seed=1)
    clips, labels, classes = read(path)
    again, same_labels = skeleton_dataset(["walking", "standing"], 3, seed=1)
    assert classes == ["walking", "standing"] and labels == same_labels == [0, 0, 0, 1, 1, 1]
    assert all(np.allclose(a["xy"], b["xy"]) for a, b in zip(clips, again, strict=True))
    with pytest.raises(ActrecError, match="unknown skeleton class 'flying'"):
        write(tmp_path, ["flying"], 1)


def test_training_on_skeletons_writes_a_small_safe_bundle(tmp_path):
    out = tmp_path / "b.pt"
    m = train_builtin(BuiltinOptions(out=str(out), clips_per_class=12, epochs=1, hidden=16),
                      echo=lambda *_: None)  # fmt: skip
    assert out.stat().st_size < 1_000_000
    b = load_bundle(out)  # weights_only, and predict's own checks
    assert b["classes"] == list(CLASSES) and b["backbone"]["people"]["enabled"]
    assert b["builtin"]["options"]["clips_per_class"] == 12
    assert b["builtin"]["synthetic_test"]["test/acc"] == m["test/acc"]  # the figure it measured
    # keypoints and travel, by default
    assert b["backbone"]["feature_dim"] == PART_DIMS["pose"] + PART_DIMS["travel"]
    with pytest.raises(ActrecError, match="parts expects a non-empty list of pose"):
        train_builtin(BuiltinOptions(out=str(out), parts=["pose", "tarvel"]))


def test_the_shipped_model_labels_synthetic_people_it_never_saw():
    """Run the shipped head on skeletons of a seed its training never drew (bodies, cameras,
    tempos), by predict's rule: the synthetic figure it was shipped with must hold."""
    b = load_bundle("builtin")
    assert b["classes"] == list(CLASSES) and BUILTIN_MODEL.stat().st_size < 1_000_000
    head, s = head_from_bundle(b), b["sample"]
    parts = b["backbone"]["people"]["parts"]
    clips, labels = skeleton_dataset(CLASSES, 8, seed=4321, fps=s["fps"])
    right = 0
    for clip, label in zip(clips, labels, strict=True):
        feats = skeleton_features(clip, s["fps"], parts)
        starts = window_starts(len(feats), s["window"], round(s["fps"]))
        right += int(video_label(score_windows(head, feats, s["window"], starts)).argmax() == label)
    assert right / len(labels) >= 0.8, f"{right}/{len(labels)}"
    assert b["predict"]["threshold"] > 0


def test_a_missing_builtin_model_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(bundle_mod, "BUILTIN_MODEL", tmp_path / "builtin.pt")
    with pytest.raises(ActrecError, match="make builtin-model"):
        load_bundle("builtin")


def test_predict_a_video_with_no_model_labels_its_people(tmp_path):
    clip = two_people_clip(tmp_path / "two.mp4")
    out = tmp_path / "t.json"
    r = subprocess.run([sys.executable, "-m", "actrec", "predict", str(clip), f"json={out}"],
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert f"no model given: the built-in model ({len(CLASSES)} actions" in r.stdout
    res = json.loads(out.read_text())
    assert len(res["people"]) == 2
    assert res["label"] == res["people"][0]["label"]  # the clip's label is its main actor's
    probs, threshold = res["probabilities"], load_bundle("builtin")["predict"]["threshold"]
    top = max(probs, key=probs.get)
    assert res["label"] == (top if probs[top] >= threshold else UNSURE)  # the model's threshold
    for p in res["people"]:
        rows = p["timeline"]
        assert rows and all(r["label"] == UNSURE or r["score"] >= threshold for r in rows)


def test_a_score_below_the_threshold_is_labelled_unsure(tmp_path):
    clip = two_people_clip(tmp_path / "two.mp4")
    sure = predict_video("builtin", clip, PredictOptions(threshold=0.0, progress=False))
    unsure = predict_video("builtin", clip, PredictOptions(threshold=1.0, progress=False))
    assert sure["label"] in CLASSES and unsure["label"] == UNSURE
    assert unsure["score"] == sure["score"]  # the score is kept: only the label says "unsure"
    assert all(row["label"] == UNSURE for p in unsure["people"] for row in p["timeline"])


def test_train_init_builtin_starts_from_its_head_and_keeps_matching_classes():
    from actrec.model import ActionClassifier
    from actrec.train import _start_from

    b = load_bundle("builtin")
    h = b["head"]
    model = ActionClassifier(h["in_dim"], ["boxing", "walking"], h["hidden"], h["layers"],
                             clip_norm=h["clip_norm"])  # fmt: skip
    fresh = model.head.classify[1].weight[0].clone()
    _start_from(model, b)
    state = model.head.state_dict()
    assert torch.equal(state["gru.weight_hh_l0"], b["state_dict"]["gru.weight_hh_l0"])
    walking = b["classes"].index("walking")
    assert torch.equal(state["classify.1.weight"][1], b["state_dict"]["classify.1.weight"][walking])
    assert torch.equal(state["classify.1.weight"][0], fresh)  # boxing: a class of its own


def test_train_init_refuses_a_model_of_other_features():
    from actrec.train import _init_bundle

    with pytest.raises(ActrecError, match="train.init=builtin: it was trained on features"):
        _init_bundle("builtin", "yolo11n-untrained-0000000000-00000000")


def test_the_people_builtin_config_trains_the_built_in_models_features_and_head():
    from pathlib import Path

    from actrec.config import load_config
    from actrec.extract import feature_source
    from actrec.train import _head_shape, _init_bundle

    path = Path(__file__).parents[1] / "configs" / "people_builtin.yaml"
    cfg = load_config(path, {"features.device": "cpu"})
    source = feature_source(cfg)
    b = _init_bundle(cfg.train.init, source.fingerprint)  # refused if the features differed
    assert _head_shape(cfg.model, b, "builtin") == b["head"]
    # a head setting the init's weights cannot take is refused, not silently replaced
    wider = load_config(path, {"model.hidden": 64})
    with pytest.raises(ActrecError, match=r"model.hidden=64 differs from train.init=builtin"):
        _head_shape(wider.model, b, "builtin")
    assert _head_shape(load_config(None).model, None, "")["hidden"] == 128


WEIZMANN = {"bend": "bending", "jack": "jumping_jacks", "wave1": "waving_one_hand",
            "wave2": "waving_both_hands"}  # fmt: skip


@pytest.mark.slow
def test_the_built_in_model_labels_real_weizmann_performers(tmp_path):
    """Real people it never trained on (the Weizmann actions, 6 performers, 48 clips), by
    predict's rule at detection size 256 (the clips are 64 px: upscaled 4x)."""
    from tests.conftest import SHARED

    clips = sorted((SHARED / "weizmann4").glob("*/*.avi"))
    if not clips:
        pytest.skip("../shared/data/weizmann4 is absent")
    opts = PredictOptions(people_imgsz=256, progress=False)
    wrong = [c.name for c in clips
             if predict_video("builtin", c, opts)["label"] != WEIZMANN[c.parent.name]]  # fmt: skip
    assert len(clips) - len(wrong) >= 42, wrong


@pytest.mark.slow
def test_the_built_in_model_names_falls_sitting_down_and_workouts_in_real_clips():
    """The 17 wild_dev clips of the actions added in December 2026 (tests/data/
    new_actions_truth.csv), through `predict` itself: a workout is right when the clip's label
    is, a fall or sitting down when an event of its label is found within 1 s of where one
    happens (times checked by eye)."""
    import csv
    from pathlib import Path

    from tests.conftest import SHARED

    truth = Path(__file__).parent / "data" / "new_actions_truth.csv"
    rows = [r for r in csv.reader(x for x in truth.read_text().splitlines() if x[:1] != "#")
            if r[0].startswith("wild_dev/")]  # fmt: skip
    if not (SHARED / rows[0][0]).is_file():
        pytest.skip("../shared/data/wild_dev is absent")
    wrong = []
    for clip, label, events, *size in rows:
        opts = PredictOptions(people_imgsz=int(size[0]) if size else None, progress=False)
        r = predict_video("builtin", SHARED / clip, opts)
        if not events:
            top = max(r["probabilities"], key=r["probabilities"].get) if r["probabilities"] else ""
            ok = top == label
        else:
            spans = [[float(x) for x in e.split("@")[1].split("-")] for e in events.split(";")
                     if e.startswith(label)]  # fmt: skip
            ok = any(e["label"] == label and e["start_s"] <= b + 1 and e["end_s"] >= a - 1
                     for e in r["events"] for a, b in spans)  # fmt: skip
        if not ok:
            wrong.append(clip)
    assert len(rows) - len(wrong) >= 14, wrong
