"""The Python API: `Model(...).predict(...)` → `Result`, `.live(...)`, `.export(...)`, `train(...)`.

Above `predict`, `live`, `export` and `train` in the flow, beside the CLI (which calls it). In the
style of ultralytics: options are keyword arguments with the command line's names, checked as
the command line checks them; the model is loaded once per `Model` (again only when an option
that shapes the loading, device, runtime or people_imgsz, changes).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from actrec.catalog import video_sources
from actrec.errors import ActrecError
from actrec.options import LiveOptions, PredictOptions, options_from
from actrec.results import Result

LOAD_KEYS = ("device", "runtime", "people_imgsz")  # the options that shape what is loaded


class Model:
    """An actrec model: `Model()` is the built-in one (21 actions of people, no training),
    `Model("runs/x/model.pt")` a bundle written by `actrec train`.

    >>> r = Model().predict("clip.mp4")
    >>> r.label, r.people[0].events
    """

    def __init__(
        self,
        model: str | Path = "builtin",
        device: str = "auto",
        runtime: str = "torch",
        people_imgsz: int | None = None,
        echo=print,
    ) -> None:
        self.model, self.echo = str(model), echo
        # checked as the command line checks them; every call starts from them
        self.defaults = vars(
            options_from(
                PredictOptions, dict(device=device, runtime=runtime, people_imgsz=people_imgsz)
            )
        )
        self.defaults = {k: self.defaults[k] for k in LOAD_KEYS}
        self.loaded = None
        self._load(device, runtime, people_imgsz)  # a bad model fails here, once

    def _load(self, device: str, runtime: str, people_imgsz: int | None):
        from actrec.runtime import load_model

        key = (device, runtime, people_imgsz)
        if self.loaded is None or self.loaded.key != key:
            self.loaded = load_model(self.model, device, runtime, people_imgsz, self.echo)
        return self.loaded

    @property
    def classes(self) -> list[str]:
        return list(self.loaded.bundle["classes"])

    def predict(self, source: Any, stream: bool = False, **opts: Any):
        """Label a video file or URL (→ a `Result`), or a folder, list file, glob or list of
        them (→ a list of `Result`, one per video; a video that fails gives a Result whose
        `error` says why, and the others go on). `stream=True`: a generator of Results.

        Options: those of `actrec predict` (stride=, threshold=, device=, runtime=,
        people_imgsz=, falls=, reps=, json=, out=; json= and out= only for a single video)."""
        paths, single = video_sources(source)
        o = options_from(PredictOptions, {**self.defaults, **opts})
        if not single and (o.json or o.out):
            raise ActrecError(
                "json= and out= name one video's files: for many, call save() "
                "on each Result (or use actrec predict FOLDER json=all.jsonl)"
            )
        gen = self._predict_many(paths, o, raise_errors=single)
        if single:
            return next(gen)
        return gen if stream else list(gen)

    def _predict_many(self, paths: list[str], o: PredictOptions, raise_errors: bool
                      ) -> Iterator[Result]:  # fmt: skip
        from actrec.features import videos_features
        from actrec.predict import Predictor, check_outputs, check_video

        check_outputs(o)  # before the model loads or a frame is decoded
        loaded = self._load(o.device, o.runtime, o.people_imgsz)
        predictor = Predictor(loaded)
        if raise_errors:  # one video: its own progress bar, its errors raised
            yield predictor(check_video(paths[0]), o)
            return
        fps = loaded.bundle["sample"]["fps"]
        for v in videos_features(paths, loaded.source, fps):  # in the order they finish
            yield Result(video=v.path, error=v.error) if v.error and not v.nobody else \
                predictor.label(v, o)  # fmt: skip

    def __call__(self, source: Any, **opts: Any):
        return self.predict(source, **opts)

    def live(self, source: str | int = 0, **opts: Any):
        """Label a camera (index), stream URL or file as it plays: a `Watch` to iterate over,
        one update per labelled frame (`t`, `label`, `score`, `fps`, `latency_ms`, `people`,
        `events`, `reps`); its `summary` once the source ends, or `run()` for the summary alone.

        Options: those of `actrec live` (headless=, out=, log=, realtime=, duration=, alert=,
        mqtt=, ...)."""
        from actrec.alerts.incidents import alert_settings
        from actrec.live import Watch, live_updates

        imgsz = opts.pop("people_imgsz", self.defaults["people_imgsz"])
        given = {"device": self.defaults["device"], "runtime": self.defaults["runtime"], **opts}
        o = options_from(LiveOptions, {**given, "source": source})
        alert_settings(o)  # a malformed receiver address fails before the model loads
        loaded = self._load(o.device, o.runtime, imgsz)
        return Watch(live_updates(loaded, o, self.echo))

    def export(self, format: str = "auto", out: str | Path | None = None) -> dict[str, Path]:
        """Write the graphs for runtime=onnx|openvino (see `actrec export`); → their paths."""
        from actrec.export import export

        return export(self.model, out, self.echo, format)

    def __repr__(self) -> str:
        return f"Model({self.model!r}: {len(self.classes)} classes)"


def train(config: str | Path | None = None, echo=print, **overrides: Any) -> dict:
    """Fit, test and export a model as `actrec train CONFIG key=value ...` does; overrides use
    the config's dotted names as keywords through a dict (`**{"data.train": "clips/"}`) or
    double underscores (`data__train="clips/"`). → the metrics (with `run_dir`)."""
    from actrec.config import load_config, no_config_defaults
    from actrec.train import train as fit

    given = {k.replace("__", "."): v for k, v in overrides.items()}
    base = no_config_defaults() if config is None else {}
    return fit(load_config(config, {**base, **given}), echo)
