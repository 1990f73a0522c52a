"""The `actrec` command: one entry point, subcommands, `key=value` overrides over a YAML file.

The only module that knows every stage; each command imports only the stages it runs, so
`predict` and `live` start without Lightning. Errors a user can cause arrive as `ActrecError` and
leave as one line on stderr with a non-zero exit; anything unexpected is one line too, with the
traceback behind `ACTREC_DEBUG=1`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import traceback
import warnings
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

from actrec.config import load_config, no_config_defaults
from actrec.errors import ActrecError
from actrec.keys import parse_overrides, unknown_key
from actrec.options import (
    EvaluateOptions,
    ExportOptions,
    LiveOptions,
    PredictOptions,
    SynthOptions,
    describe_options,
    load_options,
)

USAGE = """usage: actrec COMMAND [ARGS] [key=value ...]      (actrec COMMAND --help: its options)

  synth     [key=value ...]               synthetic data: demo videos, or kind=skeleton keypoints
  extract   [CONFIG.yaml] [key=value ...] fill the feature cache (resumable)
  train     [CONFIG.yaml] [key=value ...] extract what is missing, fit, test, export model.pt
  evaluate  MODEL [data=DATASET]          metrics and confusion matrix of a model
  predict   [MODEL] VIDEO [key=value ...] label a video: clip label, timeline, annotated video
  live      [MODEL] [key=value ...]       label a camera, stream or file as it plays
  export    MODEL [format=auto] [out=DIR] graphs for runtime=onnx|openvino (predict, live)
  check     [CONFIG.yaml] [key=value ...] list videos that cannot be decoded

MODEL: a model.pt written by train, or none (or 'builtin'): the model shipped with actrec,
which labels people's 21 actions: walking, running, waving, falling, sitting down, workouts...

CONFIG keys (e.g. data.train=..., features.imgsz=160, train.epochs=50) are listed in
configs/default.yaml."""


def _rank_zero() -> bool:
    """False in the other processes of a DDP run (Lightning re-runs the command in each)."""
    ranks = ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID")
    return all(os.environ.get(k, "0") == "0" for k in ranks)


def _echo(msg: str) -> None:
    if _rank_zero():
        print(msg, flush=True)


def _positional(args: list[str], n: int, names: str) -> tuple[list[str], list[str]]:
    pos = [a for a in args if "=" not in a]
    if len(pos) != n:
        raise ActrecError(f"expected {names}, got {len(pos)} positional argument(s)")
    return pos, [a for a in args if "=" in a]


def _config(args: list[str]):
    """CONFIG.yaml with key=value overrides on top; with no CONFIG, the person stream from the
    built-in model's head (`config.no_config_defaults`)."""
    pos, rest = [a for a in args if "=" not in a], [a for a in args if "=" in a]
    if len(pos) > 1:
        raise ActrecError(f"expected at most one CONFIG.yaml, got {len(pos)}: {' '.join(pos)}")
    base = {} if pos else no_config_defaults()
    return load_config(pos[0] if pos else None, {**base, **parse_overrides(rest)})


def cmd_synth(args: list[str]) -> None:
    from actrec.synthetic import skeleton, synth

    o = load_options(SynthOptions, args)
    known = skeleton.CLASSES if o.kind == "skeleton" else synth.CLASSES
    classes = [c.strip() for c in o.classes.split(",") if c.strip()] or list(known)
    if o.kind == "skeleton":
        out = skeleton.write(o.out or "data/skeletons", classes, o.clips_per_class, o.seed)
        _echo(f"synthetic skeletons: {out} ({len(classes)} classes x {o.clips_per_class} people)")
        return
    out = synth.generate(o.out or "data/synth", classes, o.clips_per_class, o.performers, o.seed)
    _echo(f"synthetic dataset: {out} ({len(classes)} classes x {o.clips_per_class} clips)")


def cmd_extract(args: list[str]) -> None:
    from actrec.catalog import build_splits
    from actrec.extract import extract_dataset, feature_source

    cfg = _config(args)
    paths = [c.path for c in build_splits(cfg.data).all()]
    cache, _ = extract_dataset(cfg, paths, feature_source(cfg), _echo)
    _echo(f"cache: {cache.dir}")


def cmd_train(args: list[str]) -> None:
    from actrec.train import train

    m = train(_config(args), _echo)
    if not _rank_zero():
        return
    if m.get("warning"):
        _echo(m["warning"])
    if "test/acc" in m:
        _echo(f"test: top-1 {m['test/acc']:.3f}, mean class acc {m['test/mean_class_acc']:.3f}, "
              f"macro F1 {m['test/f1']:.3f} on {m['clips']['test']} held-out videos "
              "(labelled as predict labels them)")  # fmt: skip
        _echo_k_clip(m)
    if m.get("videos_failed"):
        _echo(f"skipped {m['videos_failed']} videos with no usable frames (listed above)")
    _echo(f"run: {m['run_dir']} (model.pt, metrics.json, confusion_matrix.png, curves.png)")


def _echo_k_clip(m: dict) -> None:
    for key in m:
        if key.startswith("test/acc_") and key.endswith("clip"):
            k = key.removeprefix("test/acc_")
            _echo(f"{k.removesuffix('clip')} clips per video (mean of their probabilities): top-1 "
                  f"{m[key]:.3f}, mean class acc {m[f'test/mean_class_acc_{k}']:.3f}")  # fmt: skip


def cmd_evaluate(args: list[str]) -> None:
    from actrec.evaluate import evaluate

    (model,), rest = _positional(args, 1, "MODEL")
    m = evaluate(model, load_options(EvaluateOptions, rest), _echo)
    acc, mca, f1 = m["test/acc"], m["test/mean_class_acc"], m["test/f1"]
    _echo(f"top-1 {acc:.3f}, mean class acc {mca:.3f}, macro F1 {f1:.3f} on {m['clips']} videos")
    _echo_k_clip(m)
    _echo(f"written to {m['out_dir']}")


def _builtin_note() -> None:
    from actrec.bundle import BUILTIN_NOTE, load_bundle

    _echo(BUILTIN_NOTE.format(n=len(load_bundle("builtin")["classes"])))


def cmd_predict(args: list[str]) -> int:
    from actrec.catalog import video_sources
    from actrec.outputs import check_writable

    pos, rest = [a for a in args if "=" not in a], [a for a in args if "=" in a]
    if len(pos) == 1:  # a video alone: the built-in model labels its people
        model, source = "builtin", pos[0]
    else:
        (model, source), rest = _positional(args, 2, "[MODEL] VIDEO")
    o = load_options(PredictOptions, rest)
    videos, single = video_sources(source)
    for path, what in ((o.json, "json="), (o.csv, "csv=")):  # before anything loads
        if path:
            check_writable(path, what)
    if o.out and not single and Path(o.out).suffix:
        raise ActrecError(f"out={o.out}: many videos need a folder for their annotated copies")
    if o.out and single:
        check_writable(o.out, "out=")
    from actrec.api import Model

    if model == "builtin":
        _builtin_note()
    m = Model(model, o.device, o.runtime, o.people_imgsz, echo=_echo)
    per_call = dict(stride=o.stride, threshold=o.threshold)
    if single:
        r = m.predict(videos[0], json=o.json, out=o.out, progress=o.progress, **per_call)
        if o.csv:
            r.to_csv(o.csv)
        _echo(r.summary())
        if r.hint:
            _echo(f"hint: {r.hint}")
        for path, what in ((o.json, "result JSON"), (o.out, "annotated video"), (o.csv, "CSV")):
            if path:
                _echo(f"{what}: {path}")
        return 0
    return _predict_many(m, videos, o, per_call)


def _predict_many(m, videos: list[str], o: PredictOptions, per_call: dict) -> int:
    from actrec.folder import predict_folder

    t = predict_folder(m, videos, per_call, o.json, o.csv, o.out, _echo, o.progress)
    _echo(f"{t.labelled} labelled, {len(t.failed)} failed"
          + (f", {t.skipped} already done" if t.skipped else ""))  # fmt: skip
    for video, why in t.failed.items():
        _echo(f"  failed: {video}: {why}")
    for path, what in ((o.json, "results (JSON lines)"), (o.csv, "CSV"), (o.out, "annotated")):
        if path:
            _echo(f"{what}: {path}")
    return 1 if t.failed else 0  # a script over the folder sees that some failed


def cmd_live(args: list[str]) -> None:
    from actrec.live import run_live

    pos, rest = [a for a in args if "=" not in a], [a for a in args if "=" in a]
    if not pos:
        pos = ["builtin"]
    (model,), rest = _positional(pos + rest, 1, "[MODEL]")
    o = load_options(LiveOptions, rest)
    if model == "builtin":
        _builtin_note()
    r = run_live(model, o, _echo)
    _echo(f"live: {r['labelled']} frames labelled in {r['seconds']:.1f} s, median "
          f"{r['fps_median']:.1f} FPS, label latency p50 {r['latency_p50_ms']:.0f} ms / p95 "
          f"{r['latency_p95_ms']:.0f} ms, {r['dropped']} frames dropped, {len(r['events'])} "
          f"event(s); "
          f"last label: {r['label']} ({r['score']:.2f})")  # fmt: skip
    if "files" in r:  # segment=: the numbered outputs, each complete
        _echo(f"live: wrote {len(r['files'])} file(s): {', '.join(r['files'])}")


def cmd_export(args: list[str]) -> None:
    from actrec.export import export

    (model,), rest = _positional(args, 1, "MODEL")
    o = load_options(ExportOptions, rest)
    export(model, o.out, _echo, o.format)


def cmd_check(args: list[str]) -> None:
    from actrec.catalog import build_splits
    from actrec.features import check

    cfg = _config(args)
    paths = [c.path for c in build_splits(cfg.data).all()]
    # decoding only: every core can take a share, whatever sample.workers says
    bad = check(paths, cfg.sample.fps, max(cfg.sample.workers, min(8, os.cpu_count() or 1)))
    for path, err in bad.items():
        _echo(f"  unreadable {path}: {err}")
    out = Path(cfg.cache_dir) / f"unreadable_{cfg.name}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(f"{p}\t{e}\n" for p, e in bad.items()))
    _echo(f"checked {len(paths)} videos: {len(paths) - len(bad)} ok, {len(bad)} unreadable "
          f"(list: {out}; extract and train skip them)")  # fmt: skip


COMMANDS: dict[str, Callable[[list[str]], int | None]] = {
    "synth": cmd_synth,
    "extract": cmd_extract,
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "live": cmd_live,
    "check": cmd_check,
    "export": cmd_export,
}
OPTIONS = {"synth": SynthOptions, "evaluate": EvaluateOptions, "predict": PredictOptions,
           "live": LiveOptions, "export": ExportOptions}  # fmt: skip


def command_help(cmd: str) -> str:
    """`actrec CMD --help`: its usage line and its options with their defaults."""
    line = next(x for x in USAGE.splitlines() if x.strip().startswith(cmd + " "))
    text = f"usage: actrec {line.strip()}"
    if cmd in OPTIONS:
        return "\n".join([text, "", "options (key=value):", *describe_options(OPTIONS[cmd])])
    return f"{text}\n\nCONFIG keys and their defaults: configs/default.yaml"


def _quiet() -> None:
    """Keep the terminal to actrec's own lines: library chatter goes to warnings/debug."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("ultralytics").setLevel(logging.WARNING)
    os.environ.setdefault("YOLO_OFFLINE", "True")
    if not _rank_zero():  # the other DDP ranks would repeat rank 0's lines and warnings
        logging.getLogger("actrec").setLevel(logging.ERROR)
        warnings.simplefilter("ignore")


def _leave_process_group() -> None:
    """After a DDP run: close the process group, so no rank exits with gloo's threads alive."""
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["help"] and len(argv) > 1:  # actrec help CMD: as actrec CMD --help
        argv = [argv[1], "--help"]
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    if argv[0] in ("-V", "--version"):
        print(f"actrec {version('actrec')}")
        return 0
    cmd, args = argv[0], argv[1:]
    try:
        if cmd not in COMMANDS:
            raise unknown_key(cmd, list(COMMANDS), "command")
        if any(a in ("-h", "--help") for a in args):
            print(command_help(cmd))
            return 0
        _quiet()
        rc = COMMANDS[cmd](args) or 0
        _leave_process_group()
    except ActrecError as e:
        print(f"actrec {cmd}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"actrec {cmd}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader left (`actrec help predict | head`): quiet, as cat is
        with contextlib.suppress(OSError):  # no second error when Python flushes it at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as e:  # a bug or an unforeseen failure: one line, the traceback on demand
        if os.environ.get("ACTREC_DEBUG"):
            traceback.print_exc()
        first = (str(e).splitlines() or [""])[0]
        print(f"actrec {cmd}: error: unexpected {type(e).__name__}: {first} "
              "(run with ACTREC_DEBUG=1 for the traceback)", file=sys.stderr)  # fmt: skip
        return 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
