"""The command itself: help, version, typed options, light start-up, the one-line error rule."""

from __future__ import annotations

import errno
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from actrec.cache import FeatureCache
from actrec.cli import main
from actrec.errors import ActrecError
from actrec.options import LiveOptions, PredictOptions, SynthOptions, load_options


@pytest.mark.parametrize("cmd", ["predict", "live", "evaluate", "synth"])
def test_command_help_lists_its_options_with_defaults(cmd, capsys):
    assert main([cmd, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: actrec {cmd}")
    if cmd == "live":
        assert "smooth=5" in out and "threshold=" in out and "mode=stream" in out
    if cmd == "predict":
        assert "stride=" in out and "json=" in out
    rows = [line for line in out.splitlines() if line.startswith("  ") and "=" in line]
    assert len({re.match(r"  \S+\s+", line).end() for line in rows}) == 1, rows  # one column


def test_an_image_size_no_model_could_use_is_refused_before_decoding(capsys, tmp_path):
    from tests.conftest import write_clip

    clip = write_clip(tmp_path / "c.mp4")
    assert main(["predict", str(clip), "people_imgsz=99968"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["actrec predict: error: people_imgsz expects a multiple of 32 from 32 to 4096, "
                   "got 99968"]  # fmt: skip


def test_version_and_python_dash_m(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("actrec 0.")
    p = subprocess.run([sys.executable, "-m", "actrec", "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "usage: actrec COMMAND" in p.stdout


@pytest.mark.parametrize(
    ("kind", "arg", "says"),
    [
        (PredictOptions, "stride=abc", "stride expects float"),
        (PredictOptions, "stride=0", "stride expects > 0"),
        (PredictOptions, "progress=2", "progress expects bool"),
        (LiveOptions, "smooth=x", "smooth expects int"),
        (LiveOptions, "smooth=2.5", "smooth expects int"),
        (LiveOptions, "threshold=1.5", "threshold expects a number in [0, 1]"),
        (LiveOptions, "mode=fast", "mode expects one of stream, window"),
        (LiveOptions, "lanes=0", "lanes expects > 0"),
        (SynthOptions, "clips_per_class=many", "clips_per_class expects int"),
    ],
)
def test_each_option_is_typed_and_checked(kind, arg, says):
    with pytest.raises(ActrecError, match=says.replace("[", r"\[").replace("]", r"\]")):
        load_options(kind, [arg])


def test_options_coerce_like_config_keys():
    o = load_options(LiveOptions, ["source=3", "threshold=1", "headless=true"])
    assert o.source == 3 and o.threshold == 1.0 and isinstance(o.threshold, float) and o.headless


def test_predict_does_not_import_lightning(tmp_path):
    # `actrec predict` up to its first error: every module it imports is loaded by then
    code = (
        "import sys\nfrom actrec.cli import main\n"
        f"rc = main(['predict', 'missing.pt', {str(tmp_path)!r}])\n"
        "from actrec import predict, live\n"
        "print(rc, 'lightning' in sys.modules, 'torchmetrics' in sys.modules)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.stdout.split() == ["1", "False", "False"], p.stderr


def test_help_and_synth_options_do_not_import_torch():
    code = (
        "import sys\nfrom actrec.cli import main\nmain(['--help'])\n"
        "main(['synth', '--help'])\nprint('torch' in sys.modules)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.stdout.split()[-1] == "False", p.stderr


def test_an_unexpected_error_is_one_line_unless_debugging(monkeypatch, capsys):
    import actrec.cli as cli

    def boom(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setitem(cli.COMMANDS, "synth", boom)
    assert main(["synth"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ZeroDivisionError" in err[0] and "ACTREC_DEBUG=1" in err[0]
    monkeypatch.setenv("ACTREC_DEBUG", "1")
    assert main(["synth"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_a_full_disk_names_the_file_and_says_rerunning_resumes(tmp_path, monkeypatch):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x")
    cache = FeatureCache(tmp_path / "cache", "fp", 10.0)

    def full(f, arr):
        f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", full)
    with pytest.raises(ActrecError) as e:
        cache.put(str(video), np.zeros((3, 4)), 25.0, np.arange(3) / 10)
    msg = str(e.value)
    assert str(cache.array_path(str(video))) in msg and "MiB free" in msg and "resumes" in msg
    assert not list(cache.dir.iterdir())  # no partial file left behind, no sidecar


def test_output_written_atomically_never_half(tmp_path):
    from actrec.outputs import atomic_path

    target = tmp_path / "deep" / "t.json"
    with pytest.raises(RuntimeError), atomic_path(target, hidden=False) as tmp:
        Path(tmp).write_text("{half")
        raise RuntimeError("killed mid-write")
    assert not target.exists() and not list(target.parent.iterdir())


def test_an_undecodable_file_is_one_line_on_stderr_with_no_ffmpeg_noise(bad_videos, tmp_path):
    """FFmpeg's and decord's own log lines, written from C straight to stderr, stay out of it
    (ACTREC_DEBUG=1 shows them); the user reads actrec's one line."""
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).bytes(5000))
    for video in (garbage, bad_videos["text"]):
        p = subprocess.run([sys.executable, "-m", "actrec", "predict", str(video)],
                           capture_output=True, text=True, timeout=120)  # fmt: skip
        assert p.returncode == 1
        assert p.stderr.strip().splitlines() == [
            f"actrec predict: error: cannot decode {video}: no frame could be read"
        ]
