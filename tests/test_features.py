"""synth, backbone, cache and extract: determinism, fingerprints, resume, failures, SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from actrec.backbone import Backbone, FrameStream
from actrec.cache import FeatureCache
from actrec.config import FeatureSettings
from actrec.extract import extract
from actrec.features import check
from actrec.synthetic.synth import draw_performer, render_clip
from tests.conftest import TINY_FEATURES, write_clip


def test_synth_is_deterministic_and_appearance_is_class_free():
    p = draw_performer(np.random.default_rng(3))
    a = render_clip("clapping", p, np.random.default_rng(7), size=(64, 48))
    b = render_clip("clapping", p, np.random.default_rng(7), size=(64, 48))
    assert np.array_equal(a, b) and a.shape[1:] == (48, 64, 3)
    # The same draws with another action: same background, lighting and length; other motion.
    c = render_clip("bending", p, np.random.default_rng(7), size=(64, 48))
    assert len(c) == len(a)
    assert abs(float(c.mean()) - float(a.mean())) < 3.0
    assert not np.array_equal(a, c)


def test_backbone_features_and_fingerprint(backbone):
    frames = np.random.default_rng(0).integers(0, 255, (5, 64, 64, 3), dtype=np.uint8)
    f = backbone.features(frames)
    assert f.shape == (5, backbone.feature_dim) and np.isfinite(f).all()
    # chunked with `prev` equals one pass: extraction in chunks loses nothing
    parts = [backbone.features(frames[:2]), backbone.features(frames[2:], frames[1])]
    assert np.allclose(np.concatenate(parts), f, atol=1e-5)
    stream = FrameStream(backbone)  # the same, with the previous frame carried inside
    assert np.allclose(np.concatenate([stream.step(frames[:3]), stream.step(frames[3:])]), f,
                       atol=1e-5)  # fmt: skip
    # well scaled for the float16 cache (untrained activations shrink ~100x per stage)
    assert 1e-3 < np.abs(f).mean() < 1e3
    same = Backbone(FeatureSettings(**TINY_FEATURES))
    assert same.fingerprint == backbone.fingerprint
    other = Backbone(FeatureSettings(**{**TINY_FEATURES, "pool": "mean"}))
    assert other.fingerprint != backbone.fingerprint
    assert backbone.describe()["pretrained"] is False and "UNTRAINED" in backbone.warning


def test_extract_resumes_and_records_failures(tmp_path, tiny_dataset, backbone, bad_videos):
    paths = sorted(str(p) for p in tiny_dataset.rglob("*.mp4"))[:4]
    bad = [str(bad_videos["empty"]), str(bad_videos["text"])]
    cache = FeatureCache(tmp_path / "cache", backbone.fingerprint, 10.0)
    s1 = extract(paths + bad, backbone, cache, workers=1, progress=False)
    assert (s1.extracted, s1.cached, len(s1.failed)) == (4, 0, 2)
    feats = cache.load(paths[0])
    assert feats.dtype == np.float16 and feats.shape[1] == backbone.feature_dim
    assert isinstance(feats, np.memmap)
    entry = cache.entry(paths[0])
    assert entry.status == "ok" and len(entry.times) == len(feats) and entry.fps == 25.0
    s2 = extract(paths + bad, backbone, cache, workers=0, progress=False)
    assert (s2.extracted, s2.cached, len(s2.failed)) == (0, 4, 2)
    manifest = json.loads(cache.write_manifest().read_text())
    assert len(manifest["videos"]) == 6
    assert s2.line() == "extracted 0, cached 4, failed 2"


def test_changed_video_is_extracted_again(tmp_path, backbone):
    path = write_clip(tmp_path / "a.mp4", n=20)
    cache = FeatureCache(tmp_path / "cache", backbone.fingerprint, 10.0)
    extract([str(path)], backbone, cache, workers=0, progress=False)
    write_clip(path, n=40)
    os.utime(path, (time.time() + 5, time.time() + 5))
    s = extract([str(path)], backbone, cache, workers=0, progress=False)
    assert s.extracted == 1 and len(cache.load(str(path))) == 16


def test_a_damaged_video_keeps_ffmpegs_lines_off_the_terminal(tmp_path, capfd):
    """Decoding a file damaged in the middle: the frames that can be read, and none of the
    decoder's own complaints ("[mpeg4 @ 0x...] header damaged") between actrec's lines."""
    from actrec.features import ChunkStream, chunk_loader

    clip = write_clip(tmp_path / "damaged.mp4", n=60, size=(160, 120))
    data = bytearray(clip.read_bytes())
    third = len(data) // 3
    data[third : third + 2000] = np.random.default_rng(0).integers(0, 256, 2000, np.uint8).tobytes()
    clip.write_bytes(bytes(data))
    items = list(chunk_loader(ChunkStream([str(clip)], 10.0, 64, 8), workers=1))
    assert sum(len(d["frames"]) for d in items) > 0
    assert "@ 0x" not in capfd.readouterr().err


def test_check_lists_unreadable_videos(tiny_dataset, bad_videos):
    good = [str(p) for p in sorted(tiny_dataset.rglob("*.mp4"))[:2]]
    bad = check(good + [str(p) for p in bad_videos.values()], workers=1, progress=False)
    assert set(bad) == {str(p) for p in bad_videos.values()}


def test_check_cli_writes_the_list_of_unreadable_videos(tiny_dataset, bad_videos, tmp_path):
    from actrec.cli import main

    good = sorted(tiny_dataset.rglob("*.mp4"))[:4]
    rows = [f"{p} {p.parent.name}" for p in good] + [f"{p} walking" for p in bad_videos.values()]
    (tmp_path / "list.txt").write_text("\n".join(rows) + "\n")
    assert main(["check", f"data.train={tmp_path / 'list.txt'}", f"cache_dir={tmp_path}",
                 "name=mine"]) == 0  # fmt: skip
    listed = (tmp_path / "unreadable_mine.txt").read_text().splitlines()
    assert {line.split("\t")[0] for line in listed} == {str(p) for p in bad_videos.values()}


def test_killed_extraction_leaves_no_partial_file_and_resumes(tmp_path, tiny_dataset):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data:\n  train: {tiny_dataset}\ncache_dir: {tmp_path / 'cache'}\n"
                   f"features: {json.dumps(TINY_FEATURES)}\nsample:\n  workers: 0\n")  # fmt: skip
    cmd = [sys.executable, "-m", "actrec.cli", "extract", str(cfg)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(tmp_path.rglob("*.npy"))) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (folder,) = (tmp_path / "cache").iterdir()
    done = sorted(folder.glob("*.npy"))
    assert 3 <= len(done) < 12, "kill the run mid-way"
    for npy in done:  # every array that exists is complete and loads
        assert np.load(npy).shape[0] > 0
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "failed 0" in out.stdout
    n_done = len([p for p in done if p.with_suffix(".json").exists()])
    assert f"extracted {12 - n_done}, cached {n_done}" in out.stdout
    assert not list(folder.glob(".*.tmp")) and len(list(folder.glob("*.npy"))) == 12


@pytest.mark.parametrize(("bad", "says"), [
    (dict(imgsz=50), "imgsz expects"), (dict(pool="median"), "pool expects one of mean, max"),
    (dict(layers=[99]), "features.layers: no layer 99"),
])  # fmt: skip
def test_bad_feature_settings(bad, says):
    from actrec.errors import ActrecError

    with pytest.raises(ActrecError, match=says):
        Backbone(FeatureSettings(**{**TINY_FEATURES, **bad}))


def test_weights_file_missing():
    from actrec.errors import ActrecError

    with pytest.raises(ActrecError, match="weights file not found"):
        Backbone(FeatureSettings(weights=str(Path("nope/best.pt"))))


def test_cleaning_up_spares_the_temporary_files_of_a_writer_still_running(tmp_path):
    cache = FeatureCache(tmp_path, "fp", 10.0)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    killed = cache.dir / f".a.npy.{gone.stdout.strip()}.tmp"  # its writer has exited
    busy = cache.dir / f".manifest.json.{os.getpid()}.tmp"  # another command, writing now
    killed.write_bytes(b"half")
    busy.write_bytes(b"half")
    assert cache.remove_partial() == 1
    assert not killed.exists() and busy.exists()
