"""ONNX export: the graphs, parity with torch, the stale- and missing-export errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from actrec.bundle import head_from_bundle, load_bundle, source_for_bundle
from actrec.errors import ActrecError
from actrec.export import export, paths
from actrec.features import video_features
from actrec.options import PredictOptions
from actrec.predict import predict_video
from actrec.runtime import use_runtime
from tests.conftest import SHARED, write_clip

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def exported(run, tmp_path_factory) -> Path:
    """The tiny run's bundle, copied and exported beside itself."""
    model = tmp_path_factory.mktemp("onnx") / "model.pt"
    shutil.copy(Path(run["run_dir"]) / "model.pt", model)
    export(model, echo=lambda *_: None)
    return model


def test_export_writes_every_graph_and_a_manifest(exported):
    import hashlib

    import onnx

    where = paths(exported)
    manifest = json.loads(where["manifest"].read_text())
    assert manifest["bundle_sha256"] == hashlib.sha256(exported.read_bytes()).hexdigest()
    assert sorted(manifest["graphs"]) == ["backbone", "head", "pool", "step"]
    for graph in manifest["graphs"]:
        onnx.checker.check_model(str(where[graph]))  # a whole, valid graph each
    assert not list(exported.parent.glob(".*.tmp"))  # written whole, then renamed


def test_backbone_features_match_torch(exported, tmp_path):
    """fp32 both ways: the same ops, reordered by ONNX Runtime's fusions. 1e-4 relative to the
    features' scale (about 1) is far below the spread between classes."""
    bundle = load_bundle(exported)
    clip = write_clip(tmp_path / "c.mp4", n=30)
    torch_src = source_for_bundle(bundle, "cpu")
    ref = video_features(str(clip), torch_src, 10.0, progress=False).feats
    onnx_src = source_for_bundle(bundle, "cpu")
    use_runtime(exported, "onnx", head_from_bundle(bundle), onnx_src)
    got = video_features(str(clip), onnx_src, 10.0, progress=False).feats
    assert got.shape == ref.shape
    assert np.abs(got - ref).max() <= 1e-4 * max(1.0, float(np.abs(ref).max()))


def test_streaming_step_equals_the_window_forward(exported):
    bundle = load_bundle(exported)
    head = head_from_bundle(bundle)
    onnx_head = use_runtime(exported, "onnx", head, source_for_bundle(bundle, "cpu"))
    x = torch.randn(1, 6, head.config["in_dim"])
    z = x  # fed raw: both paths take the same inputs, no standardisation in this check
    outs, state = [], None
    for t in range(6):
        out, state = onnx_head.step(z[:, t], state)
        outs.append(out)
    stepped = onnx_head.pool_classify(torch.stack(outs, 1), None)
    with torch.no_grad():
        g, _ = head.gru(head.embed(z))
        whole = head.pool_classify(g, torch.ones(1, 6, dtype=torch.bool))
    assert torch.allclose(stepped, whole, atol=1e-4)


def test_predict_with_onnx_gives_torch_labels(exported, tmp_path):
    clip = write_clip(tmp_path / "c.mp4", n=60)
    a = predict_video(exported, clip, PredictOptions(progress=False, stride=0.5))
    b = predict_video(exported, clip, PredictOptions(progress=False, stride=0.5, runtime="onnx"))
    assert [r["label"] for r in a["timeline"]] == [r["label"] for r in b["timeline"]]
    assert a["label"] == b["label"] and abs(a["score"] - b["score"]) < 1e-3


@pytest.mark.skipif(not (SHARED / "formats").is_dir(), reason="../shared/data/formats absent")
def test_onnx_agrees_with_torch_on_real_clips(exported):
    clips = ["vtest.avi", "v_SoccerJuggling_g23_c01.avi", "AR-002-12-20151017-01-09.mkv"]
    for name in clips:
        a = predict_video(exported, SHARED / "formats" / name, PredictOptions(progress=False))
        b = predict_video(exported, SHARED / "formats" / name,
                          PredictOptions(progress=False, runtime="onnx"))  # fmt: skip
        same = [x["label"] == y["label"] for x, y in zip(a["timeline"], b["timeline"], strict=True)]
        assert np.mean(same) >= 0.95, name


def test_a_missing_or_stale_export_is_one_clear_line(exported, tmp_path):
    model = tmp_path / "other.pt"
    shutil.copy(exported, model)
    clip = write_clip(tmp_path / "c.mp4", n=20)
    with pytest.raises(ActrecError, match="no export of .*actrec export"):
        predict_video(model, clip, PredictOptions(runtime="onnx", progress=False))
    export(model, echo=lambda *_: None)
    bundle = torch.load(model, weights_only=True)
    bundle["predict"]["stride"] = 0.5  # the bundle changes after its export
    torch.save(bundle, model)
    r = subprocess.run([sys.executable, "-m", "actrec", "predict", str(model), str(clip),
                        "runtime=onnx"], capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 1 and "stale" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_grid_pooling_exports_for_maps_the_grid_does_not_divide(tmp_path):
    """160 px gives 5 x 5 maps: 2 x 2 cells overlap there. ONNX's integer division truncates
    where Python's floors, which once shifted those cells in the exported graph."""
    import onnxruntime as ort

    from actrec.backbone import grid_pool

    class Pool(torch.nn.Module):
        def forward(self, x):
            return grid_pool(x, 2, "max")

    x = torch.rand(3, 4, 5, 7)
    path = tmp_path / "pool.onnx"
    torch.onnx.export(Pool(), (x,), str(path), input_names=["x"], dynamo=False,
                      dynamic_axes={"x": {0: "N"}})  # fmt: skip
    got = ort.InferenceSession(str(path)).run(None, {"x": x.numpy()})[0]
    want = torch.nn.functional.adaptive_max_pool2d(x, 2).flatten(1).numpy()
    assert np.array_equal(got, want) and np.array_equal(grid_pool(x, 2, "max").numpy(), want)


def test_evaluate_with_onnx_gives_torch_metrics(exported, run, tmp_path):
    from actrec.evaluate import evaluate
    from actrec.options import EvaluateOptions

    data = str(Path(run["run_dir"]) / "test_list.txt")

    def run_with(runtime: str) -> dict:  # a cache of its own: features made by that runtime
        opts = EvaluateOptions(data=data, cache_dir=str(tmp_path / runtime),
                               out=str(tmp_path / f"eval_{runtime}"), runtime=runtime)  # fmt: skip
        return evaluate(exported, opts, lambda *_: None)

    a, b = run_with("torch"), run_with("onnx")
    assert a["confusion_matrix"] == b["confusion_matrix"] and a["clips"] == b["clips"] > 0


def test_export_without_onnx_installed_says_what_to_install(exported, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    with pytest.raises(ActrecError, match=r"pip install -e '\.\[onnx\]'"):
        export(exported, echo=lambda *_: None)
