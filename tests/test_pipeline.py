"""train → bundle → evaluate / predict, through the importable entry points and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from actrec.cli import main
from actrec.predict import predict_video, window_starts
from actrec.train import evaluate
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
    r = predict_video(model, video, out=tmp_path / "a.mp4", json_path=tmp_path / "t.json")
    rows = r["timeline"]
    assert rows[0]["start_s"] == 0.0 and rows[-1]["end_s"] == pytest.approx(4.0)
    assert all(a["start_s"] < b["start_s"] for a, b in zip(rows, rows[1:], strict=False))
    assert all(b["start_s"] <= a["end_s"] for a, b in zip(rows, rows[1:], strict=False))
    assert r["label"] in run["classes"] and sum(r["probabilities"].values()) == pytest.approx(
        1, abs=1e-3
    )
    assert json.loads((tmp_path / "t.json").read_text())["timeline"] == rows
    from actrec.video import open_video

    with open_video(tmp_path / "a.mp4") as v:  # the annotated video plays back whole
        assert v.n_frames == 100 and v.size == (64, 48)


def test_window_starts_cover_the_end():
    assert window_starts(5, 8, 2) == [0]
    assert window_starts(20, 8, 5) == [0, 5, 10, 12]


def test_evaluate_reproduces_the_test_split(run):
    out = Path(run["run_dir"])
    m = evaluate(out / "model.pt", out / "test_list.txt", run["cache_dir"], echo=lambda *_: None)
    assert m["test/acc"] == pytest.approx(run["test/acc"])
    assert (out / "eval" / "confusion_matrix.png").is_file()


def test_evaluate_reports_one_and_k_clips_per_video(run, capsys):
    out = Path(run["run_dir"])
    rc = main(["evaluate", str(out / "model.pt"), f"data={out / 'test_list.txt'}",
               f"cache_dir={run['cache_dir']}", "clips=3"])  # fmt: skip
    text = capsys.readouterr().out
    assert rc == 0 and "top-1" in text and "3 clips per video" in text
    m = json.loads((out / "eval" / "metrics.json").read_text())
    assert 0.0 <= m["test/acc_3clip"] <= 1.0 and "test/acc" in m


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
        "unknown command": ("trian", "x"),
    }
    for what, args in cases.items():
        rc, err = _cli(capsys, *args)
        assert rc == 1, what
        assert len(err.splitlines()) == 1 and "error:" in err, f"{what}: {err}"
    assert (
        "did you mean 'train.epochs'"
        in _cli(capsys, "train", "configs/synth.yaml", "train.epoch=3")[1]
    )
    assert "did you mean 'json'" in _cli(capsys, "predict", model, "v.mp4", "jsn=t.json")[1]


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
