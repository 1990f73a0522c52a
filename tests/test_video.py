"""video: sampling rule, both decoders, bounded chunks, the real clips, bad files."""

from __future__ import annotations

import numpy as np
import pytest

from actrec.errors import ActrecError
from actrec.video import open_video, sampled_indices
from tests.conftest import SHARED, write_clip


def test_sampled_indices_hit_the_target_rate():
    idx = sampled_indices(250, 25.0, 10.0)
    assert len(idx) == 100  # 10 s at 10 fps
    assert np.allclose(np.diff(idx / 25.0).mean(), 0.1, atol=1e-3)
    assert list(sampled_indices(5, 10.0, None)) == [0, 1, 2, 3, 4]
    assert list(sampled_indices(5, 10.0, 30.0)) == [0, 1, 2, 3, 4]  # never upsampled


def test_decord_and_opencv_sample_the_same_frames(tmp_path):
    path = write_clip(tmp_path / "a.mp4", n=50, fps=25.0)
    with open_video(path) as src:
        assert src.backend == "opencv"  # first choice: its memory stays bounded
        cv = [c.frames for c in src.chunks(10.0, (32, 32), 7)]
    dec = open_video(path)
    dec.close()
    dec._cap = None
    assert dec._open_decord(path)  # the fallback, on the same file
    via_decord = list(dec.chunks(10.0, (32, 32), 7))
    assert [len(c) for c in cv] == [len(c.frames) for c in via_decord]
    assert list(np.concatenate([c.index for c in via_decord])) == list(
        sampled_indices(50, 25.0, 10.0)
    )
    diff = np.abs(np.concatenate(cv).astype(int) - np.concatenate([c.frames for c in via_decord]))
    assert diff.mean() < 2.0  # the same pictures, up to colour-conversion rounding


def test_chunks_are_bounded_and_resized(tmp_path):
    path = write_clip(tmp_path / "a.mp4", n=90)
    with open_video(path) as src:
        chunks = list(src.chunks(None, (40, 24), chunk=16))
    assert max(len(c.frames) for c in chunks) == 16
    assert sum(len(c.frames) for c in chunks) == 90
    assert chunks[0].frames.shape[1:] == (24, 40, 3)
    assert chunks[0].frames.dtype == np.uint8


@pytest.mark.parametrize("kind", ["empty", "text", "truncated", "one_frame"])
def test_bad_files_raise_one_clear_error(bad_videos, kind):
    with pytest.raises(ActrecError) as err, open_video(bad_videos[kind]) as src:
        for _ in src.chunks(10.0, (32, 32)):
            pass
    msg = str(err.value)
    assert str(bad_videos[kind]) in msg and "\n" not in msg


def test_missing_file_is_reported():
    with pytest.raises(ActrecError, match="not found"):
        open_video("no/such/video.mp4")


@pytest.mark.skipif(not (SHARED / "formats").is_dir(), reason="../shared/data/formats absent")
@pytest.mark.parametrize(
    "name",
    sorted(p.name for p in (SHARED / "formats").glob("*")) if (SHARED / "formats").is_dir() else [],
)
def test_every_real_format_decodes(name):
    path = SHARED / "formats" / name
    with open_video(path) as src:
        n = sum(len(c.frames) for c in src.chunks(10.0, (64, 64), chunk=64))
        assert src.fps > 0
    expected = (src.duration or n / 10.0) * min(10.0, src.fps)
    assert n >= 0.9 * expected - 1, f"{name}: {n} frames sampled, ~{expected:.0f} expected"
    if name.endswith(".gif"):
        assert src.backend == "opencv"  # decord cannot open GIFs
