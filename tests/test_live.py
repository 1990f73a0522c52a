"""live: newest-frame capture, the streaming GRU step, smoothing, headless outputs, bad sources."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from actrec.capture import Grabber
from actrec.cli import main
from actrec.errors import ActrecError
from actrec.head import UNSURE, GRUHead, clip_standardise, time_mask
from actrec.live import Smoother, run_live
from actrec.options import LiveOptions
from actrec.streaming import Lane, lane_count
from actrec.video import open_video
from tests.conftest import write_clip


def test_slow_consumer_gets_the_newest_frame_never_a_backlog(tmp_path):
    clip = write_clip(tmp_path / "fast.mp4", n=100, fps=100.0)  # 1 s of video
    grab = Grabber(str(clip), realtime=True)
    seen = []
    while (f := grab.read()) is not None:
        seen.append(f.index)
        time.sleep(0.1)  # a consumer ten times slower than the source
    grab.close()
    assert len(seen) < 30 and grab.dropped == 100 - len(seen)
    assert seen == sorted(seen) and seen[-1] >= 90  # it ends near the newest frame, not behind
    assert max(np.diff(seen)) > 1  # frames were skipped, not queued


def test_realtime_false_hands_over_every_frame(tmp_path):
    clip = write_clip(tmp_path / "all.mp4", n=30)
    grab = Grabber(str(clip), realtime=False)
    seen = []
    while (f := grab.read()) is not None:
        seen.append(f.index)
    grab.close()
    assert seen == list(range(30)) and grab.dropped == 0


def test_streaming_steps_equal_the_full_forward_pass():
    torch.manual_seed(0)
    head = GRUHead(in_dim=12, num_classes=4, hidden=16).eval()
    x = torch.randn(1, 9, 12)
    mask = time_mask(torch.tensor([9]), 9)
    z = clip_standardise(x, mask)  # the statistics of these very frames
    state, outs = None, []
    with torch.no_grad():
        for t in range(9):
            out, state = head.step(z[:, t], state)
            outs.append(out)
        streamed = head.pool_classify(torch.stack(outs, 1), mask)
        torch.testing.assert_close(streamed, head(x), rtol=1e-5, atol=1e-5)


def test_stream_runs_restart_so_the_label_never_rests_on_old_actions(backbone):
    lane = Lane(backbone, window=8)
    for _ in range(100):
        runs = lane.runs_for_step()
        for run in runs:
            run.outs.append(torch.zeros(2))
        assert len(runs) <= 2
        assert len(runs[0].outs) <= 8  # the run that labels has seen at most one window
    assert len(lane.runs[0].outs) >= 4  # and, once warm, at least half of one
    # the running statistics follow a change of action within about a window
    for _ in range(8):
        lane.standardise(torch.zeros(3))
    late = [lane.standardise(torch.full((3,), 5.0)) for _ in range(8)][-1]
    assert late.abs().max() < 1.0  # 5.0 is the new normal, no longer an outlier


def test_smoothing_averages_and_hides_low_scores():
    smooth = Smoother(["a", "b", "c"], n=2, threshold=0.5, topk=2)
    label, score, top = smooth(np.array([0.9, 0.05, 0.05]))
    assert (label, round(score, 2)) == ("a", 0.9) and [n for n, _ in top] == ["a", "b"]
    label, score, _ = smooth(np.array([0.1, 0.8, 0.1]))  # mean (0.5, 0.425, 0.075)
    assert label == "a" and score == pytest.approx(0.5)
    label, score, _ = smooth(np.array([0.1, 0.6, 0.3]))  # mean (0.1, 0.7, 0.2)
    assert label == "b"
    label, _, _ = smooth(np.array([0.4, 0.3, 0.3]))  # mean (0.25, 0.45, 0.25): below 0.5
    assert label == UNSURE


def test_a_camera_faster_than_the_model_has_every_frame_labelled_in_stream_mode(run, tmp_path):
    """A 30 fps source and a 10 fps model: stream mode deals the frames to 3 lanes and labels
    each one; window mode labels one frame in 3 (the model's rate), as predict samples."""
    model = Path(run["run_dir"]) / "model.pt"
    clip = write_clip(tmp_path / "fast.mp4", n=45, fps=30.0)
    labelled = {}
    for mode in ("stream", "window"):
        opts = LiveOptions(source=str(clip), mode=mode, realtime=False, headless=True)
        labelled[mode] = run_live(model, opts, echo=lambda *_: None)["labelled"]
    assert labelled == {"stream": 45, "window": 15}
    assert lane_count(30, 10, "stream", 2) == 2  # lanes= overrides


@pytest.mark.parametrize("mode", ["stream", "window"])
def test_headless_writes_and_closes_video_and_log(run, tiny_dataset, tmp_path, mode):
    clip = next((tiny_dataset / "clapping").glob("*.mp4"))
    n_frames = open_video(clip).n_frames
    log = tmp_path / "new" / "l.jsonl"  # its folder does not exist yet
    opts = LiveOptions(source=str(clip), mode=mode, realtime=False, headless=True,
                       out=str(tmp_path / "o.mp4"), log=str(log))  # fmt: skip
    r = run_live(Path(run["run_dir"]) / "model.pt", opts, echo=lambda *_: None)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(rows) == r["labelled"] > 0 and r["dropped"] == 0
    assert {"t", "label", "score", "fps", "latency_ms"} <= set(rows[0])
    assert rows[-1]["label"] == r["label"]
    with open_video(tmp_path / "o.mp4") as out:  # closed properly: it decodes, every frame kept
        assert out.n_frames == n_frames
    assert not list(tmp_path.glob("*.part*"))


def test_a_log_that_cannot_be_written_is_one_clear_error(run, tiny_dataset, tmp_path):
    clip = next((tiny_dataset / "clapping").glob("*.mp4"))
    opts = LiveOptions(source=str(clip), realtime=False, headless=True, log=str(tmp_path))
    with pytest.raises(ActrecError, match="cannot write the log"):
        run_live(Path(run["run_dir"]) / "model.pt", opts, echo=lambda *_: None)


def test_window_mode_ends_on_predicts_label(run, tmp_path):
    from actrec.predict import predict_video

    model = Path(run["run_dir"]) / "model.pt"
    # 7 frames at 10 fps, within the run's window of 8: predict scores one window, and live's
    # last window holds the same frames
    clip = write_clip(tmp_path / "short.mp4", n=18)
    opts = LiveOptions(source=str(clip), mode="window", realtime=False, headless=True,
                       smooth=1, threshold=0.0)  # fmt: skip
    live = run_live(model, opts, echo=lambda *_: None)
    want = predict_video(model, clip)  # the default stride: one window here
    assert live["label"] == want["label"] and live["score"] == pytest.approx(
        want["score"], abs=1e-3
    )


def test_a_mismatched_backbone_is_refused(run, tmp_path):
    bundle = torch.load(Path(run["run_dir"]) / "model.pt", weights_only=True)
    bundle["backbone"]["fingerprint"] = "yolo11n-pre-0000000000-00000000"
    torch.save(bundle, tmp_path / "other.pt")
    with pytest.raises(ActrecError, match="backbone mismatch"):
        run_live(tmp_path / "other.pt", LiveOptions(source="unused.mp4", headless=True))


def test_missing_camera_and_unreadable_file_are_one_line(run, capsys, bad_videos):
    model = str(Path(run["run_dir"]) / "model.pt")
    for source in ("7", str(bad_videos["text"]), "no/such/video.mp4"):
        assert main(["live", model, f"source={source}", "headless=true"]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("actrec live: error:"), err
    assert main(["live", model, "sorce=0"]) == 1
    assert "did you mean 'source'" in capsys.readouterr().err
    for bad, says in (("smooth=x", "smooth expects int"), ("threshold=2", "in [0, 1]"),
                      ("mode=fast", "mode expects one of stream, window"),
                      ("headless=maybe", "headless expects bool")):  # fmt: skip
        assert main(["live", model, "source=clip.avi", bad]) == 1, bad
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and says in err[0], err


def test_live_takes_the_models_unsure_threshold_as_predict_does(run, tmp_path):
    """No threshold= given: the bundle's predict.threshold, as predict uses it."""
    bundle = torch.load(Path(run["run_dir"]) / "model.pt", weights_only=True)
    bundle["predict"]["threshold"] = 1.0  # nothing is ever that sure
    torch.save(bundle, tmp_path / "unsure.pt")
    clip = write_clip(tmp_path / "c.mp4", n=20)
    log = tmp_path / "l.jsonl"
    opts = LiveOptions(source=str(clip), realtime=False, headless=True, log=str(log))
    run_live(tmp_path / "unsure.pt", opts, echo=lambda *_: None)
    labels = {json.loads(line)["label"] for line in log.read_text().splitlines()}
    assert labels == {UNSURE}
    opts = LiveOptions(source=str(clip), realtime=False, headless=True, threshold=0.0)
    assert run_live(tmp_path / "unsure.pt", opts, echo=lambda *_: None)["label"] != UNSURE


def test_the_summary_keeps_a_bounded_sample_however_long_the_run():
    """A watch lasts days: the figures of every label are not kept, a fixed-size uniform sample
    is, and its quantiles are the run's."""
    from actrec.live import Tally

    tally = Tally()
    rng = np.random.default_rng(0)
    latencies = rng.exponential(40.0, 200_000)
    for x in latencies:
        tally.add(float(x), 30.0)
    assert tally.n == 200_000 and len(tally.sample) == Tally.SIZE
    got = np.percentile([x for x, _ in tally.sample], [50, 95])
    assert np.allclose(got, np.percentile(latencies, [50, 95]), rtol=0.1)
