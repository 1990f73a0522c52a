"""DDP on CPU (gloo, 2 processes): extraction shares the videos between ranks, training runs on
both, and only rank 0 speaks and writes the run folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TINY_FEATURES, write_ucf101

ACTREC = str(Path(sys.executable).parent / "actrec")


def _actrec(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([ACTREC, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_two_rank_extraction_and_training_on_fake_ucf101(tmp_path):
    videos, ann, split = write_ucf101(tmp_path, ["Archery", "Bowling", "Diving"])
    feats = "".join(f"  {k}: {v}\n" for k, v in TINY_FEATURES.items())
    (tmp_path / "c.yaml").write_text(
        f"data:\n  format: ucf101\n  root: {videos}\n  annotations: {ann}\n  val_frac: 0\n"
        f"  window: 8\n  batch: 4\ncache_dir: {tmp_path / 'cache'}\nruns_dir: {tmp_path / 'runs'}\n"
        f"sample:\n  workers: 0\nfeatures:\n{feats}train:\n  epochs: 2\neval:\n  clips: 3\n"
        "trainer:\n  accelerator: cpu\n  devices: 2\n"
    )  # fmt: skip
    p = _actrec("train", "c.yaml", cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stdout.count("extracted 12, cached 0, failed 0") == 1  # rank 0 alone reports
    assert p.stdout.count("test: top-1") == 1
    assert p.stdout.count("3 clips per video") == 1  # multi-clip test, on rank 0 only

    manifest = json.loads(next((tmp_path / "cache").glob("*/manifest.json")).read_text())
    names = [Path(v["source"]).name for v in manifest["videos"]]
    assert sorted(names) == sorted(split)  # every clip exactly once
    assert {v["rank"] for v in manifest["videos"]} == {0, 1}  # both ranks did a share
    assert all(v["status"] == "ok" and v["frames"] > 0 for v in manifest["videos"])

    run = tmp_path / "runs" / "exp"
    assert not (tmp_path / "runs" / "exp2").exists()
    m = json.loads((run / "metrics.json").read_text())
    assert m["clips"] == {"train": 6, "val": 0, "test": 6}
    cm = m["confusion_matrix"]  # gathered from both ranks: each test video counted once
    assert sum(map(sum, cm)) == 6 and m["test/acc"] == pytest.approx(
        sum(cm[i][i] for i in range(3)) / 6
    )
    assert any(m["test/acc_3clip"] == pytest.approx(k / 6) for k in range(7))  # 6 whole videos
    tested = {
        Path(line.split()[0]).name
        for line in (run / "test_list.txt").read_text().split("\n")
        if line
    }
    assert tested == {n for n, s in split.items() if s == "test"}  # split 1 exactly

    again = _actrec("extract", "c.yaml", cwd=tmp_path)
    assert again.returncode == 0 and "extracted 0, cached 12, failed 0" in again.stdout


def test_two_rank_extraction_of_the_person_stream(tmp_path):
    """The person stream goes through the same Trainer.predict path: each rank detects and
    tracks people in its share of the videos and writes their tracks atomically."""
    from tests.conftest import two_people_clip

    data = tmp_path / "clips"
    for label in ("walking", "waving"):
        (data / label).mkdir(parents=True)
        for k in range(2):
            two_people_clip(data / label / f"{label}_{k}.mp4", frames=12 + 2 * k)
    (tmp_path / "c.yaml").write_text(
        f"data:\n  train: {data}\ncache_dir: {tmp_path / 'cache'}\nsample:\n  workers: 0\n"
        "people:\n  enabled: true\n  min_track: 0.5\n"
        "trainer:\n  accelerator: cpu\n  devices: 2\n"
    )  # fmt: skip
    p = _actrec("extract", "c.yaml", cwd=tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stdout.count("extracted 4, cached 0, failed 0") == 1  # rank 0 alone reports
    cache = next((tmp_path / "cache").glob("*people*"))
    manifest = json.loads((cache / "manifest.json").read_text())
    assert {v["rank"] for v in manifest["videos"]} == {0, 1}  # both ranks did a share
    assert all(v["status"] == "ok" for v in manifest["videos"]) and len(manifest["videos"]) == 4
    assert len(list(cache.glob("*.npy"))) == 4 and not list(cache.glob("*.tmp*"))
