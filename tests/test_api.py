"""The Python API (`from actrec import Model`) and `Result`, as a user of the library calls them."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from actrec.errors import ActrecError
from tests.conftest import two_people_clip


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Two clips of two people (different lengths), a broken file, and a list file naming them."""
    root = tmp_path_factory.mktemp("clips")
    a = two_people_clip(root / "a.mp4", frames=20)
    (root / "sub").mkdir()
    b = two_people_clip(root / "sub" / "b.mp4", frames=15)
    (root / "broken.mp4").write_bytes(b"not a video at all\n" * 20)
    return root, a, b


@pytest.fixture(scope="module")
def model(people_bundle):
    from actrec import Model

    return Model(str(people_bundle), device="cpu", echo=lambda *_: None)


def test_import_actrec_loads_no_torch_until_a_model_loads():
    code = (
        "import sys, actrec; print('torch' in sys.modules); from actrec import Model, Result; "
        "print('torch' in sys.modules, Model.__name__, Result.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "Model", "Result"]  # torch at the first load


def test_predict_a_file_gives_a_result_that_writes_itself(model, clips, tmp_path):
    from actrec import Result

    _, a, _ = clips
    r = model.predict(str(a))
    assert isinstance(r, Result) and r.ok and r.video == str(a)
    assert r.label in model.classes + ["…"]
    assert [p.id for p in r.people] and all(len(p.boxes) == len(p.frames) for p in r.people)
    assert r.timeline[0].start_s == pytest.approx(r.people[0].start_s, abs=0.11)
    assert abs(r.duration_s - 2.0) < 0.11  # 20 frames at 10 fps
    d = json.loads(r.to_json())
    assert d == r.to_dict() and Result.from_dict(d) == r  # the JSON reads back as it was
    assert Result.from_dict(json.loads(r.save(tmp_path / "r.json").read_text())) == r
    rows = r.to_csv(tmp_path / "r.csv").read_text().splitlines()
    windows = sum(len(p.timeline) for p in r.people)
    assert rows[0] == "video,kind,person,label,start_s,end_s,score,count"
    assert len(rows) == 1 + windows + len(r.events)


def test_plot_draws_one_lane_per_person(model, clips, tmp_path):
    _, a, _ = clips
    r = model.predict(str(a))
    png = r.plot(tmp_path / "t.png")
    img = cv2.imread(str(png))
    assert img is not None and img.shape[1] == 1000  # 10 in at 100 dpi
    taller = r.__class__.from_dict({**r.to_dict(), "people": r.to_dict()["people"] * 3})
    assert cv2.imread(str(taller.plot(tmp_path / "t3.png"))).shape[0] > img.shape[0]


def test_summary_is_plain_lines_with_a_timeline_table(model, clips):
    _, a, _ = clips
    text = model.predict(str(a)).summary()
    assert "{" not in text and "\\u" not in text  # no JSON fragment
    assert "timeline (main person):" in text and " s  " in text
    assert text.splitlines()[0].startswith(f"{a}: ")


def test_a_folder_gives_one_result_per_video_with_the_model_loaded_once(
    people_bundle, clips, monkeypatch
):
    import actrec.runtime as runtime
    from actrec import Model

    loads = []
    real = runtime.load_model
    monkeypatch.setattr(runtime, "load_model", lambda *a, **k: loads.append(1) or real(*a, **k))
    root, a, b = clips
    m = Model(str(people_bundle), device="cpu", echo=lambda *_: None)
    results = m.predict(str(root))
    assert [r.video for r in results] == [str(a), str(root / "broken.mp4"), str(b)]
    assert [r.ok for r in results] == [True, False, True]
    assert "cannot decode" in results[1].error
    assert results[2].duration_s < results[0].duration_s  # each video its own result
    stream = m.predict([str(a), str(b)], stream=True)
    assert not isinstance(stream, list) and [r.video for r in stream] == [str(a), str(b)]
    assert len(loads) == 1  # one Model, one load, whatever it labels


def test_a_list_file_and_a_glob_name_videos(model, clips, tmp_path):
    from actrec.catalog import video_sources

    root, a, b = clips
    listed = tmp_path / "videos.txt"
    listed.write_text(f"# mine\n{a} walking\n{b}\n")
    assert video_sources(str(listed)) == ([str(a), str(b)], False)
    assert video_sources(f"{root}/**/*.mp4")[0] == sorted(
        [str(a), str(b), str(root / "broken.mp4")]
    )
    assert video_sources("http://host/x.mp4") == (["http://host/x.mp4"], True)
    with pytest.raises(ActrecError, match="no files match"):
        video_sources(f"{root}/*.mkv")


def test_options_are_checked_as_on_the_command_line(model, clips):
    _, a, _ = clips
    with pytest.raises(ActrecError, match="did you mean 'stride'"):
        model.predict(str(a), strid=1.0)
    with pytest.raises(ActrecError, match="the model goes first"):
        model.predict(str(a), model="x.pt")
    with pytest.raises(ActrecError, match="a number in"):
        model.predict(str(a), threshold=3)


def test_a_missing_video_raises_and_a_batch_needs_no_single_file_outputs(model, clips, tmp_path):
    root, _, _ = clips
    with pytest.raises(ActrecError, match="video not found"):
        model.predict(str(tmp_path / "nope.mp4"))
    with pytest.raises(ActrecError, match="json= and out= name one video"):
        model.predict(str(root), json=str(tmp_path / "x.json"))


def test_live_yields_per_frame_updates_and_a_summary(model, clips):
    _, a, _ = clips
    watch = model.live(str(a), headless=True, realtime=False)
    updates = list(watch)
    assert len(updates) >= 15 and updates[0]["people"]
    assert {"id", "box", "label", "score"} <= set(updates[0]["people"][0])
    assert [u["t"] for u in updates] == sorted(u["t"] for u in updates)
    assert watch.summary["labelled"] >= len(updates)


def test_model_errors_are_plain_words(tmp_path):
    from actrec import Model

    (tmp_path / "junk.pt").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ActrecError, match=r"is not an actrec model \(.*\): not a PyTorch file"):
        Model(str(tmp_path / "junk.pt"))
    import torch

    torch.save({"model": np.zeros(3)}, tmp_path / "other.pt")  # a numpy object: not weights-only
    with pytest.raises(ActrecError, match="holds Python objects") as e:
        Model(str(tmp_path / "other.pt"))
    assert "weights_only" not in str(e.value)
    with pytest.raises(ActrecError, match="model file not found"):
        Model(str(tmp_path / "none.pt"))
