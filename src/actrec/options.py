"""The options of the commands that take no CONFIG.yaml (synth, export, predict, evaluate, live,
the built-in model's training): typed dataclasses read from `key=value` arguments.

Beside the flow with `config` (it imports none of the stages), so `actrec --help` starts
without torch. Each option is coerced and checked as config keys are; `describe_options` is
`actrec COMMAND --help`.
"""

from __future__ import annotations

import typing
from dataclasses import MISSING, dataclass, fields

from actrec.config import DEVICES, PEOPLE_PARTS, RUNTIMES, EvalConfig, PredictConfig
from actrec.errors import ActrecError
from actrec.keys import (
    IMAGE_SIZE,
    flat_keys,
    image_size,
    opt,
    parse_overrides,
    positive,
    set_key,
    unit_interval,
)


@dataclass
class SynthOptions:
    kind: str = opt("video", "video: rendered clips (the demo) | skeleton: keypoint sequences "
                    "of tracked people, as the pose model reports them", choices=("video",
                    "skeleton"))  # fmt: skip
    out: str | None = opt(None, "output folder (default: data/synth, or data/skeletons)")
    classes: str = opt("", "comma-separated subset of the classes (default: all)")
    clips_per_class: int = opt(40, "clips of each class", positive, "> 0")
    performers: int = opt(10, "distinct performers (groups for the split)", positive, "> 0")
    seed: int = opt(0, "random seed: the same seed gives the same videos")


RUNTIME_CHOICES = (*RUNTIMES, "auto")
RUNTIME_HELP = ("torch | onnx (ONNX Runtime) | openvino | auto (the fastest installed that the "
                "export covers); 'actrec export MODEL' first")  # fmt: skip


@dataclass
class ExportOptions:
    format: str = opt("auto", "auto (onnx, and openvino where installed) | onnx | openvino | all",
                      choices=("auto", "onnx", "openvino", "all"))  # fmt: skip
    out: str | None = opt(None, "folder for the graphs (default: beside the model)")


@dataclass
class BuiltinOptions:
    out: str = opt("", "bundle to write (default: the one shipped in the package)")
    clips_per_class: int = opt(400, "synthetic skeletons of each class", positive, "> 0")
    epochs: int = opt(60, "training epochs", positive, "> 0")
    average: float = opt(0.5, "average the weights over this last share of the epochs (SWA; 0: "
                         "off)", unit_interval, "a number in [0, 1]")  # fmt: skip
    window: int = opt(32, "steps per window (at sample fps)", positive, "> 0")
    hidden: int = opt(128, "GRU width", positive, "> 0")
    clip_norm: bool | str = opt(False, "as model.clip_norm (false: the pose itself counts, "
                                "e.g. hands above the head)")  # fmt: skip
    parts: list[str] = opt(["pose", "travel"], "as people.parts (keypoints and travel: box and "
                           "velocity parts measured worse on real clips)",
                           rule=lambda v: bool(v) and set(v) <= set(PEOPLE_PARTS) - {"roi"},
                           expects="a non-empty list of pose, velocity, box, travel")  # fmt: skip
    fps: float = opt(10.0, "sample fps", positive, "> 0")
    seed: int = opt(0, "random seed: skeletons, initialisation and order")
    heads: int = opt(1, "heads trained with seeds seed, seed+1, ... and shipped as one ensemble "
                     "(their probabilities averaged)", positive, "> 0")  # fmt: skip


def the_models(name: str) -> typing.Any:
    """PredictConfig's field `name` (what `actrec train` stores in the model) as an option of
    one run: the same help and rule, unset meaning the model's own value."""
    meta = PredictConfig.__dataclass_fields__[name].metadata
    return opt(None, f"{meta['help']} (default: the model's)", meta["rule"], meta["expects"])


@dataclass
class PredictOptions:
    out: str | None = opt(None, "write the video with the labels drawn on it (many videos: a "
                          "folder for them)")  # fmt: skip
    json: str | None = opt(None, "write the result and timeline as JSON (many videos: JSON "
                           "lines, one per video; a second run skips those)")  # fmt: skip
    csv: str | None = opt(None, "write the events and windows as CSV rows (many videos: one "
                          "file for all)")  # fmt: skip
    stride: float | None = the_models("stride")
    threshold: float | None = the_models("threshold")
    device: str = opt("auto", DEVICES)
    people_imgsz: int | None = opt(None, "person models: detection size, long side (default: "
                                   "the model's); larger finds smaller people", image_size,
                                   IMAGE_SIZE)  # fmt: skip
    progress: bool | None = opt(None, "progress bar (default: when stdout is a terminal)")
    runtime: str = opt("torch", RUNTIME_HELP, choices=RUNTIME_CHOICES)
    falls: str = opt("both", "models that know falls: found by the head (its windows), the body "
                     "(the top of the body and the hips dropping, then staying low) or both",
                     choices=("head", "body", "both"))  # fmt: skip
    reps: bool = opt(True, "person models: count the repetitions of each exercise the model "
                     "knows (squats, push-ups, ...), per person and set")  # fmt: skip


@dataclass
class EvaluateOptions(EvalConfig):  # `clips`, the knob a training run's test stage uses too
    data: str | None = opt(None, "dataset: class folders or a list file "
                                 "(default: the run's test_list.txt)")  # fmt: skip
    cache_dir: str = opt("data/cache", "feature cache")
    out: str | None = opt(None, "folder for metrics.json and the confusion matrix (default: "
                          "eval/ beside the model; runs/builtin/eval for the built-in "
                          "one)")  # fmt: skip
    device: str = opt("auto", DEVICES)
    runtime: str = opt("torch", RUNTIME_HELP + " (the features of videos not yet cached, and "
                       "the head)", choices=RUNTIME_CHOICES)  # fmt: skip


@dataclass
class LiveOptions:
    source: str | int = opt(0, "camera index, video file or stream URL")
    mode: str = opt("stream", "stream: one GRU step per frame | window: re-score the last window",
                    choices=("stream", "window"))  # fmt: skip
    realtime: bool | None = opt(None, "files: paced at their fps (default) or as fast as possible")
    smooth: int = opt(5, "moving average over this many probability vectors", positive, "> 0")
    threshold: float | None = opt(None, "below it the label shows as '…' (default: the model's, "
                                  "as predict)", unit_interval, "a number in [0, 1]")  # fmt: skip
    topk: int = opt(3, "classes listed under the label", positive, "> 0")
    lanes: int | None = opt(None, "frame lanes (default: source fps / model fps)", positive,
                            "> 0")  # fmt: skip
    headless: bool | None = opt(None, "no window (default: true when there is no display)")
    out: str | None = opt(None, "write the annotated video")
    log: str | None = opt(None, "write JSON lines: t, label, score, fps, latency_ms")
    segment: float | None = opt(None, "cut out= and log= into numbered files of this many "
                                "seconds each (out_000.mp4, log_000.jsonl, ...)", positive,
                                "> 0")  # fmt: skip
    reconnect: int | None = opt(None, "a stream or camera that stops is reopened this many "
                                "times, pauses growing to 30 s (default: for ever; a file that "
                                "ends has ended)", lambda v: v >= 0, ">= 0")  # fmt: skip
    duration: float | None = opt(None, "stop after this many seconds", positive, "> 0")
    down_alert_s: float = opt(20.0, "a fallen person still down after this many seconds: "
                              "one 'person N down for S s' line and log event", positive,
                              "> 0")  # fmt: skip
    device: str = opt("auto", DEVICES)
    runtime: str = opt("torch", RUNTIME_HELP, choices=RUNTIME_CHOICES)
    alert: str | None = opt(None, "person models: POST each alert as JSON to this http(s):// "
                            "address (docs/live.md: the messages)")  # fmt: skip
    mqtt: str | None = opt(None, "person models: publish alerts to an MQTT broker, "
                           "mqtt://host:1883/prefix (topics prefix/events, "
                           "prefix/NAME/snapshot, prefix/NAME/person_down)")  # fmt: skip
    name: str | None = opt(None, "the source's name in alerts and topics (default: camera0, the "
                           "file's or the stream's name)")  # fmt: skip
    alert_on: list[str] = opt(
        ["falling", "down"],
        "which events or labels alert: falling "
        "(a fall), down (still down after down_alert_s), set (a workout set's end, with its "
        "count), any label",
    )
    cooldown_s: float = opt(30.0, "seconds before the same person and label alert again",
                            lambda v: v >= 0, ">= 0")  # fmt: skip
    clip_s: float = opt(5.0, "an alert's clip: this many seconds before and after it",
                        positive, "> 0")  # fmt: skip
    alerts_dir: str = opt("actrec-alerts", "the alerts' clips and spool (messages waiting for "
                          "a receiver that is down)")  # fmt: skip
    spool_mb: float = opt(100.0, "the spool's size limit: over it the oldest snapshots are "
                          "dropped", positive, "> 0")  # fmt: skip


Options = typing.TypeVar("Options")


# keys people try that are positional arguments: where they go instead
POSITIONAL = {
    "model": "the model goes first: actrec predict MODEL VIDEO (Model(MODEL) in Python)",
    "video": "the video comes after the model: actrec predict MODEL VIDEO",
    "source": "the video comes after the model: actrec predict MODEL VIDEO",
}


def load_options(kind: type[Options], args: list[str]) -> Options:
    """A command's `key=value` options → its options dataclass, checked like config keys."""
    return options_from(kind, parse_overrides(args))


def options_from(kind: type[Options], given: dict) -> Options:
    """Options given by name (the command line's, or the API's keyword arguments) → the options
    dataclass; an unknown name is refused with a "did you mean", or where it goes instead."""
    opts = kind()
    known = flat_keys(opts)
    for key, value in given.items():
        if key in POSITIONAL and key not in known:
            raise ActrecError(f"{key}= is not an option: {POSITIONAL[key]}")
        set_key(opts, key, value, known, "option")
    return opts


def describe_options(kind: type) -> list[str]:
    """One help line per option: `key=default  what it does`."""
    left = []
    for f in fields(kind):
        default = f.default if f.default is not MISSING else f.default_factory()
        if isinstance(default, list):  # as it is typed: alert_on=falling,down
            default = ",".join(map(str, default))
        left.append(f"{f.name}={'' if default is None else default}")
    width = max(map(len, left))  # one column for the help, whatever the names and defaults
    return [f"  {k:<{width}}  {f.metadata.get('help', '')}".rstrip()
            for k, f in zip(left, fields(kind), strict=True)]  # fmt: skip
