"""train → bundle → evaluate / predict, through the importable entry points and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from actrec.cli import main
from actrec.errors import ActrecError
from actrec.evaluate import evaluate
from actrec.options import EvaluateOptions, PredictOptions
from actrec.predict import predict_video
from tests.conftest import write_clip


def test_run_folder_holds_everything(run):
    out = Path(run["run_dir"])
    for name in ("config.yaml", "metrics.json", "confusion_matrix.png", "curves.png", "model.pt",
                 "test_list.txt", "logs/metrics.csv"):  # fmt: skip
        assert (out / name).is_file(), name
    m = json.loads((out / "metrics.json").read_text())
    assert {"test/acc", "test/mean_class_acc", "test/f1"} <= set(m)
    assert m["pretrained"] is False and "UNTRAINED" in m["warning"] and m["backbone"]
    bundle = torch.load(out / "model.pt", weights_only=True)
    assert bundle["backbone"]["fingerprint"] == m["backbone"]
    assert list(out.glob("checkpoints/*.ckpt"))


def test_predict_timeline_covers_the_video(run, tmp_path):
    model = Path(run["run_dir"]) / "model.pt"
    video = write_clip(tmp_path / "long.mp4", n=100, fps=25.0)  # 4 s
    opts = PredictOptions(out=str(tmp_path / "a.mp4"), json=str(tmp_path / "t.json"))
    r = predict_video(model, video, opts)
    rows = r["timeline"]
    assert rows[0]["start_s"] == 0.0 and rows[-1]["end_s"] == pytest.approx(4.0)
    assert all(a["start_s"] < b["start_s"] for a, b in zip(rows, rows[1:], strict=False))
    assert all(b["start_s"] <= a["end_s"] for a, b in zip(rows, rows[1:], strict=False))
    probs = r["probabilities"]
    assert sum(probs.values()) == pytest.approx(1, abs=1e-3) and set(probs) == set(run["classes"])
    assert r["label"] == max(probs, key=probs.get)  # the mean's top class (threshold 0)
    assert r["score"] == probs[r["label"]]
    assert json.loads((tmp_path / "t.json").read_text())["timeline"] == rows
    from actrec.video import open_video

    with open_video(tmp_path / "a.mp4") as v:  # the annotated video plays back whole
        assert v.n_frames == 100 and v.size == (64, 48)


def test_evaluate_reproduces_the_test_split_and_predicts_labels(run):
    out = Path(run["run_dir"])
    opts = EvaluateOptions(cache_dir=run["cache_dir"])  # data: the run's test_list.txt
    m = evaluate(out / "model.pt", opts, echo=lambda *_: None)
    assert m["test/acc"] == pytest.approx(run["test/acc"])
    assert m["confusion_matrix"] == run["confusion_matrix"]
    assert (out / "eval" / "confusion_matrix.png").is_file()
    # metrics.json measures what predict answers: the same label for every test video
    rows = [line.rsplit(" ", 1) for line in (out / "test_list.txt").read_text().splitlines()]
    classes = run["classes"]
    confusion = [[0] * len(classes) for _ in classes]
    for path, truth in rows:
        label = predict_video(out / "model.pt", path, PredictOptions(progress=False))["label"]
        confusion[classes.index(truth)][classes.index(label)] += 1
    assert confusion == m["confusion_matrix"]


def test_evaluate_reports_one_and_k_clips_per_video(run, capsys):
    out = Path(run["run_dir"])
    rc = main(["evaluate", str(out / "model.pt"), f"data={out / 'test_list.txt'}",
               f"cache_dir={run['cache_dir']}", "clips=3"])  # fmt: skip
    text = capsys.readouterr().out
    assert rc == 0 and "top-1" in text and "3 clips per video" in text
    m = json.loads((out / "eval" / "metrics.json").read_text())
    assert "test/acc" in m and m["label_rule"].startswith("mean of the probabilities")
    # 3 clips per video: what the K-clip test computes, checked by hand on the same cache
    import numpy as np

    from actrec.bundle import head_from_bundle, load_bundle
    from actrec.cache import FeatureCache
    from actrec.head import score_windows, window_starts

    bundle = load_bundle(out / "model.pt")
    head = head_from_bundle(bundle)
    cache = FeatureCache(run["cache_dir"], bundle["backbone"]["fingerprint"], 10.0)
    rows = [line.rsplit(" ", 1) for line in (out / "test_list.txt").read_text().splitlines()]
    right = 0
    for path, truth in rows:
        feats = np.asarray(cache.load(path), np.float32)
        probs = score_windows(head, feats, 8, window_starts(len(feats), 8, count=3))
        right += run["classes"][int(probs.mean(0).argmax())] == truth
    assert m["test/acc_3clip"] == pytest.approx(right / len(rows))


def _cli(capsys, *args) -> tuple[int, str]:
    rc = main(list(args))
    err = capsys.readouterr().err.strip()
    return rc, err


def test_cli_errors_are_one_line(run, capsys, bad_videos, tmp_path):
    model = str(Path(run["run_dir"]) / "model.pt")
    cases = {
        "missing model": ("predict", str(tmp_path / "none.pt"), str(bad_videos["empty"])),
        "not a bundle": ("predict", str(bad_videos["text"]), str(bad_videos["empty"])),
        "missing video": ("predict", model, str(tmp_path / "none.mp4")),
        "empty video": ("predict", model, str(bad_videos["empty"])),
        "text video": ("predict", model, str(bad_videos["text"])),
        "truncated video": ("predict", model, str(bad_videos["truncated"])),
        "one frame": ("predict", model, str(bad_videos["one_frame"])),
        "bad key": ("train", "configs/synth.yaml", "train.epoch=3"),
        "missing config": ("train", str(tmp_path / "none.yaml")),
        "bad option": ("predict", model, str(bad_videos["empty"]), "jsn=t.json"),
        "stride not a number": ("predict", model, str(bad_videos["empty"]), "stride=abc"),
        "a folder with no videos": ("predict", model, str(tmp_path / "empty_dir")),
        "unknown command": ("trian", "x"),
    }
    (tmp_path / "empty_dir").mkdir()
    for what, args in cases.items():
        rc, err = _cli(capsys, *args)
        assert rc == 1, what
        assert len(err.splitlines()) == 1 and "error:" in err, f"{what}: {err}"
    assert (
        "did you mean 'train.epochs'"
        in _cli(capsys, "train", "configs/synth.yaml", "train.epoch=3")[1]
    )
    assert "did you mean 'json'" in _cli(capsys, "predict", model, "v.mp4", "jsn=t.json")[1]
    assert "stride expects float" in _cli(capsys, "predict", model, "v.mp4", "stride=abc")[1]
    assert "no videos found in" in _cli(capsys, "predict", model, str(tmp_path / "empty_dir"))[1]


def test_cli_predict_and_check(run, capsys, tmp_path, tiny_dataset, bad_videos):
    model = str(Path(run["run_dir"]) / "model.pt")
    clip = str(sorted(tiny_dataset.rglob("*.mp4"))[0])
    assert main(["predict", model, clip, f"json={tmp_path / 't.json'}"]) == 0
    assert (tmp_path / "t.json").is_file()
    lst = tmp_path / "list.txt"
    lst.write_text(f"{clip} clapping\n{bad_videos['text']} clapping\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data:\n  train: {lst}\n  val_frac: 0\n  test_frac: 0\n")
    capsys.readouterr()
    assert main(["check", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "1 ok, 1 unreadable" in out and "notes.mp4" in out


def test_resume_continues_a_killed_run_from_its_last_checkpoint(
    tiny_dataset, run, tmp_path, monkeypatch
):
    import csv

    import lightning as L

    import actrec.train as train_mod
    from actrec.config import load_config
    from actrec.errors import ActrecError
    from tests.conftest import TINY_FEATURES

    over = {"data.train": str(tiny_dataset), "data.window": 8, "data.batch": 4,
            "runs_dir": str(tmp_path), "cache_dir": run["cache_dir"], "name": "r",
            "train.epochs": 4,
            **{f"features.{k}": v for k, v in TINY_FEATURES.items()}}  # fmt: skip
    with pytest.raises(ActrecError, match="no checkpoints/last.ckpt"):
        train_mod.train(load_config(None, {**over, "resume": True}), echo=lambda *_: None)

    class Crash(L.Callback):  # the process dies as epoch 2 starts; last.ckpt holds epoch 1
        def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
            if trainer.current_epoch == 2:
                raise RuntimeError("killed")

    make_trainer = train_mod._trainer
    monkeypatch.setattr(train_mod, "_trainer", lambda *a: _with(make_trainer(*a), Crash()))
    with pytest.raises(RuntimeError, match="killed"):
        train_mod.train(load_config(None, over), echo=lambda *_: None)
    monkeypatch.setattr(train_mod, "_trainer", make_trainer)
    m = train_mod.train(load_config(None, {**over, "resume": True}), echo=lambda *_: None)
    assert m["run_dir"] == str(tmp_path / "r") and not (tmp_path / "r2").exists()
    rows = list(csv.DictReader((tmp_path / "r" / "logs" / "metrics.csv").open()))
    epochs = [int(r["epoch"]) for r in rows if r["train/loss"]]
    assert epochs == [0, 1, 2, 3]  # every epoch once: the earlier ones kept, none run twice
    assert (tmp_path / "r" / "model.pt").is_file() and "test/acc" in m


def _with(trainer, callback):
    trainer.callbacks.append(callback)
    return trainer


def test_a_bundle_holds_no_machine_settings_and_runs_on_this_machine(run, tmp_path, tiny_dataset):
    bundle = torch.load(Path(run["run_dir"]) / "model.pt", weights_only=True)
    assert not {"device", "batch", "half"} & set(bundle["backbone"]["settings"])
    assert set(bundle["sample"]) == {"fps", "window"}  # no chunk either
    clip = str(sorted(tiny_dataset.rglob("*.mp4"))[0])
    with pytest.raises(ActrecError, match="device cuda.*no CUDA GPU"):
        predict_video(Path(run["run_dir"]) / "model.pt", clip, PredictOptions(device="cuda"))


def test_a_single_class_dataset_says_it_needs_two(tmp_path, tiny_dataset, capsys):
    one = tmp_path / "one"
    (one / "walking").mkdir(parents=True)
    for p in sorted((tiny_dataset / "walking").glob("*.mp4"))[:2]:
        (one / "walking" / p.name).symlink_to(p)
    rc = main(["train", f"data.train={one}", f"runs_dir={tmp_path}", f"cache_dir={tmp_path}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1 and "needs at least two classes" in err[0]
