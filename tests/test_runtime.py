"""The pose model in ONNX Runtime and OpenVINO: export, load, parity with torch, clear errors."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from actrec.errors import ActrecError
from actrec.export import export, paths
from actrec.options import PredictOptions
from actrec.predict import predict_video
from actrec.runtime import resolve_runtime
from tests.conftest import two_people_clip

pytest.importorskip("onnxruntime")
pytest.importorskip("openvino")
QUIET = dict(echo=lambda *_: None)


@pytest.fixture(scope="module")
def exported(people_bundle, tmp_path_factory) -> Path:
    """The person bundle, copied and exported beside itself in both formats."""
    model = tmp_path_factory.mktemp("runtime") / "people.pt"
    shutil.copy(people_bundle, model)
    export(model, fmt="all", **QUIET)
    return model


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return two_people_clip(tmp_path_factory.mktemp("clip") / "two.mp4", frames=20)


def test_export_writes_the_pose_model_in_each_format(exported, clip):
    from actrec.weights import load_exported, runtime_settings

    where = paths(exported)
    cap = cv2.VideoCapture(str(clip))
    _, frame = cap.read()
    cap.release()
    for runtime in ("onnx", "openvino"):  # each export finds the two people torch finds
        yolo = load_exported(where[f"pose_{runtime}"], runtime)
        with runtime_settings(runtime):
            found = yolo.predict(frame, imgsz=320, classes=[0], device="cpu", verbose=False)[0]
        assert len(found.boxes) == 2 and found.keypoints.xy.shape[1:] == (17, 2)
    assert not list(exported.parent.glob("tmp*"))  # the scratch folder is gone


@pytest.mark.parametrize("runtime", ["onnx", "openvino"])
def test_each_runtime_tracks_and_labels_people_as_torch_does(exported, clip, runtime):
    """The same people, boxes and keypoints within a pixel, the same labels, scores close: fp32
    in every runtime, only the order of the sums differs."""
    torch_r = predict_video(exported, clip, PredictOptions(progress=False))
    got = predict_video(exported, clip, PredictOptions(progress=False, runtime=runtime))
    assert len(got["people"]) == len(torch_r["people"]) == 2
    for a, b in zip(torch_r["people"], got["people"], strict=True):
        assert (a["start_s"], a["end_s"]) == (b["start_s"], b["end_s"])
        assert [r["label"] for r in a["timeline"]] == [r["label"] for r in b["timeline"]]
        assert a["score"] == pytest.approx(b["score"], abs=0.02)


@pytest.mark.parametrize("runtime", ["onnx", "openvino"])
def test_the_exported_pose_model_finds_the_same_keypoints(exported, clip, runtime):
    from actrec.bundle import head_from_bundle, load_bundle, source_for_bundle
    from actrec.runtime import use_runtime

    bundle = load_bundle(exported)
    ref, other = (source_for_bundle(bundle, "cpu") for _ in range(2))
    use_runtime(exported, runtime, head_from_bundle(bundle), other, **QUIET)
    cap = cv2.VideoCapture(str(clip))
    frames = np.stack([cap.read()[1][..., ::-1] for _ in range(5)])  # (5, H, W, 3) RGB
    cap.release()
    # OpenVINO computes in bf16 on CPUs that have it (its default, twice as fast as fp32 here),
    # ONNX Runtime in fp32: boxes within 0.5 % of the frame, seen joints within 0.5 % at the
    # median and 2 % at the 95th percentile (an outstretched wrist may move by a few pixels)
    size, dist = max(frames.shape[1:3]), []
    for a, b in zip(ref.detect(frames), other.detect(frames), strict=True):
        assert len(a.boxes) == len(b.boxes) >= 2
        assert np.abs(a.boxes.xyxy.numpy() - b.boxes.xyxy.numpy()).max() < 0.005 * size
        seen = (a.keypoints.conf.numpy() > 0.5) & (b.keypoints.conf.numpy() > 0.5)  # (P, 17)
        dist.append(np.linalg.norm(a.keypoints.xy.numpy() - b.keypoints.xy.numpy(), axis=-1)[seen])
    dist = np.concatenate(dist)
    assert len(dist) >= 50 and np.median(dist) < 0.005 * size
    assert np.percentile(dist, 95) < 0.02 * size


def test_auto_picks_the_fastest_runtime_the_export_covers(exported, people_bundle):
    said: list[str] = []
    assert resolve_runtime(exported, "auto", said.append) == "openvino"
    assert resolve_runtime(people_bundle, "auto", said.append) == "torch"  # never exported
    assert "no current export" in said[1] and len(said) == 2


def test_a_stale_or_missing_export_is_one_line(exported, clip, tmp_path):
    model = tmp_path / "changed.pt"
    shutil.copy(exported, model)
    with pytest.raises(ActrecError, match="no export of .*actrec export"):
        predict_video(model, clip, PredictOptions(runtime="openvino", progress=False))
    export(model, fmt="onnx", **QUIET)
    with pytest.raises(ActrecError, match="has no openvino model.*format=openvino"):
        predict_video(model, clip, PredictOptions(runtime="openvino", progress=False))
    bundle = torch.load(model, weights_only=True)
    bundle["predict"]["stride"] = 0.5  # the bundle changes after its export
    torch.save(bundle, model)  # the command line's one line: tests/test_export.py
    with pytest.raises(ActrecError, match="stale .*actrec export .* again"):
        predict_video(model, clip, PredictOptions(runtime="onnx", progress=False))


def test_a_missing_runtime_says_what_to_install(exported, clip, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # as if it were not installed
    with pytest.raises(ActrecError, match=r"runtime=openvino needs openvino: pip install -e "
                       r"'\.\[openvino\]'"):  # fmt: skip
        predict_video(exported, clip, PredictOptions(runtime="openvino", progress=False))
    with pytest.raises(ActrecError, match=r"pip install -e '\.\[openvino\]'"):
        export(exported, fmt="openvino", **QUIET)
    said: list[str] = []  # auto passes over what is not installed
    assert resolve_runtime(exported, "auto", said.append) == "onnx"


def test_extraction_runs_the_pose_model_in_openvino(tmp_path, clip):
    """`features.runtime=openvino`: the pose weights are exported once into the cache folder and
    the tracks come out as torch's."""
    from actrec.config import Config
    from actrec.extract import feature_source
    from actrec.features import video_features
    from tests.conftest import POSE

    cfg = Config()
    cfg.cache_dir = str(tmp_path / "cache")
    cfg.people.enabled, cfg.people.min_track = True, 0.5
    for k, v in POSE.items():
        setattr(cfg.features, k, v)
    ref = video_features(str(clip), feature_source(cfg), 10.0, progress=False)
    cfg.features.runtime = "openvino"
    got = video_features(str(clip), feature_source(cfg), 10.0, progress=False)
    assert len(list((tmp_path / "cache" / "exports").glob("*_openvino_model"))) == 1
    assert got.feats.shape == ref.feats.shape
    assert np.abs(got.feats - ref.feats).max() < 0.05  # normalised keypoints: a pixel is ~0.01


def test_whole_frame_extraction_refuses_a_runtime():
    from actrec.config import Config
    from actrec.extract import feature_source

    cfg = Config()
    cfg.features.runtime = "onnx"
    with pytest.raises(ActrecError, match="covers the pose model of the person stream"):
        feature_source(cfg)


def test_openvino_computes_in_the_precision_asked_for_never_the_cpus_default(monkeypatch):
    """f32 by default, where parity with torch is promised (OpenVINO's own default is bf16 on CPUs
    with AVX512-BF16 or AMX); bf16 when asked, checked where this CPU can do it."""
    ov = pytest.importorskip("openvino")
    from actrec.weights import openvino_config, openvino_cores_set

    monkeypatch.delenv("ACTREC_OPENVINO_PRECISION", raising=False)
    assert openvino_config()["INFERENCE_PRECISION_HINT"] == "f32"
    with openvino_cores_set():  # the Core ultralytics makes inside its own loader
        core = ov.Core()
    assert core.get_property("CPU", "INFERENCE_PRECISION_HINT") == ov.Type.f32
    assert ov.Core is not type(core)  # the patch is gone after the block
    if "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        monkeypatch.setenv("ACTREC_OPENVINO_PRECISION", "bf16")
        with openvino_cores_set():
            core = ov.Core()
        assert core.get_property("CPU", "INFERENCE_PRECISION_HINT") == ov.Type.bf16
    monkeypatch.setenv("ACTREC_OPENVINO_PRECISION", "int4")
    with pytest.raises(ActrecError, match="expected f32 or bf16"):
        openvino_config()
