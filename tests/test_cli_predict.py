"""`actrec predict` as a newcomer runs it: folders, outputs checked first, URLs, help, errors."""

from __future__ import annotations

import functools
import http.server
import json
import threading

import pytest

from actrec.cli import main
from tests.conftest import two_people_clip


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    for name, n in (("a", 20), ("b", 16), ("c", 12)):
        two_people_clip(root / f"{name}.mp4", frames=n)
    (root / "broken.mp4").write_bytes(b"not a video\n" * 40)
    (root / "empty.avi").write_bytes(b"")
    return root


def test_a_folder_is_labelled_failures_named_and_a_second_run_skips(
    people_bundle, folder, tmp_path, capsys
):
    out, events = tmp_path / "out.jsonl", tmp_path / "events.csv"
    args = [
        "predict",
        str(people_bundle),
        str(folder),
        f"json={out}",
        f"csv={events}",
        "device=cpu",
    ]
    assert main(args) == 1  # some failed
    text = capsys.readouterr().out
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted(r["video"].rsplit("/", 1)[1] for r in lines) == ["a.mp4", "b.mp4", "c.mp4"]
    assert "3 labelled, 2 failed" in text
    assert f"failed: {folder / 'broken.mp4'}: cannot decode" in text
    assert f"failed: {folder / 'empty.avi'}: cannot decode" in text
    rows = events.read_text().splitlines()
    assert rows[0].startswith("video,kind,person") and rows.count(rows[0]) == 1
    assert {r.split(",")[0] for r in rows[1:]} == {r["video"] for r in lines}
    assert main(args) == 1  # the broken ones still fail; nothing labelled again
    text = capsys.readouterr().out
    assert "0 labelled, 2 failed, 3 already done" in text
    assert len(out.read_text().splitlines()) == 3


def test_a_torn_last_line_of_the_jsonl_is_cut_off(folder, tmp_path):
    from actrec.outputs import read_jsonl_videos

    out = tmp_path / "out.jsonl"
    out.write_text(json.dumps({"video": str(folder / "a.mp4")}) + "\n" + '{"video": "/x/b.m')
    assert read_jsonl_videos(out) == {str(folder / "a.mp4")}
    assert out.read_text().endswith("}\n")  # the torn line is gone


def test_outputs_that_cannot_be_written_fail_before_the_model_loads(
    people_bundle, folder, monkeypatch, capsys
):
    import actrec.runtime as runtime

    def never(*_a, **_k):
        raise AssertionError("the model was loaded before the output was checked")

    monkeypatch.setattr(runtime, "load_model", never)
    video = str(folder / "a.mp4")
    assert main(["predict", str(people_bundle), video, "json=/proc/x.json"]) == 1
    assert "cannot write json= /proc/x.json" in capsys.readouterr().err
    assert main(["predict", str(people_bundle), video, f"out={folder}"]) == 1
    assert "is a folder" in capsys.readouterr().err
    assert main(["predict", str(people_bundle), str(folder), "csv=/proc/e.csv"]) == 1
    assert "cannot write csv=" in capsys.readouterr().err


def test_a_single_video_prints_a_table_not_json(people_bundle, folder, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["predict", str(people_bundle), str(folder / "a.mp4"), f"json={out}"]) == 0
    text = capsys.readouterr().out
    assert "timeline (main person):" in text and "{" not in text and "\\u" not in text
    assert json.loads(out.read_text())["video"] == str(folder / "a.mp4")


def test_a_video_over_http_is_read_whole_url(people_bundle, folder, capsys):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *_: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/a.mp4"
        assert main(["predict", str(people_bundle), url]) == 0
        assert f"{url}: " in capsys.readouterr().out  # labelled, under its own name
        missing = url.replace("a.mp4", "nope.mp4")
        assert main(["predict", str(people_bundle), missing]) == 1
        assert f"cannot decode {missing}" in capsys.readouterr().err  # the // kept
    finally:
        server.shutdown()


def test_model_as_an_option_says_where_it_goes(capsys):
    assert main(["predict", "model=nope.pt", "x.mp4"]) == 1
    assert "the model goes first: actrec predict MODEL VIDEO" in capsys.readouterr().err


def test_help_cmd_is_the_commands_help(capsys):
    assert main(["help", "predict"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: actrec predict") and "json=" in text and "csv=" in text


def test_help_into_a_closed_pipe_ends_quietly(monkeypatch, capsys):
    def closed(*_a, **_k):  # what print meets once `| head` has read its lines and left
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("actrec.cli.command_help", closed)
    assert main(["help", "predict"]) == 141
    assert capsys.readouterr().err == ""


def test_a_run_sets_stride_and_threshold_as_a_training_config_does(capsys):
    from actrec.config import PredictConfig
    from actrec.options import PredictOptions

    assert main(["predict", "x.mp4", "threshold=1.5"]) == 1
    assert "threshold expects a number in [0, 1], got 1.5" in capsys.readouterr().err
    help_of = {n: f.metadata["help"] for n, f in PredictOptions.__dataclass_fields__.items()}
    assert help_of["stride"].startswith(
        PredictConfig.__dataclass_fields__["stride"].metadata["help"]
    )


def test_the_builtin_export_goes_to_the_user_cache(tmp_path, monkeypatch):
    from actrec.bundle import BUILTIN_MODEL
    from actrec.export import paths

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    where = paths("builtin")
    assert where["manifest"].parent == tmp_path / "actrec" / "builtin"
    assert BUILTIN_MODEL.parent not in [p.parent for p in where.values()]
    assert paths("runs/x/model.pt")["head"].parent.as_posix() == "runs/x"  # yours: beside it


def test_train_with_no_config_is_the_person_stream_from_the_builtin_head():
    from dataclasses import asdict

    from actrec.cli import _config
    from actrec.config import load_config

    cfg = _config(["data.train=my_clips/"])
    assert cfg.people.enabled and cfg.train.init == "builtin" and cfg.data.train == "my_clips/"
    assert cfg.people.parts == ["pose", "travel"]
    # configs/people_builtin.yaml is the same settings, written down
    assert asdict(
        load_config("configs/people_builtin.yaml", {"data.train": "my_clips/"})
    ) == asdict(cfg)
    assert not _config(["configs/frames.yaml"]).people.enabled  # whole frames, named
