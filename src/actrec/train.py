"""Training: catalog → extract what is missing → fit → test → run folder + model bundle.

After `model` and `evaluate` in the flow. A run folder `runs/<name>/` holds the resolved config,
the split lists, Lightning checkpoints and CSV logs, `metrics.json`, `confusion_matrix.png`,
`curves.png` and `model.pt`: the bundle `predict` and `live` load (`bundle.make_bundle`).
"""

from __future__ import annotations

import csv
from dataclasses import asdict
from functools import partial
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, RichProgressBar
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities import rank_zero_only

from actrec.bundle import load_bundle
from actrec.catalog import Splits, build_splits
from actrec.config import HEAD_DEFAULTS, Config, ModelConfig, save_config
from actrec.data import class_weights, datamodule_from_cache
from actrec.errors import ActrecError
from actrec.evaluate import pyplot, test_and_report
from actrec.extract import extract_dataset, feature_source, quiet_lightning
from actrec.head import stride_steps
from actrec.model import ActionClassifier
from actrec.outputs import atomic_path, write_json
from actrec.pose import jitter, mirror


def run_dir(cfg: Config) -> Path:
    """`runs_dir/name`, or name2, name3, ... when it already holds a finished run."""
    root = Path(cfg.runs_dir)
    path, n = root / cfg.name, 2
    if cfg.resume:
        if not (path / "checkpoints" / "last.ckpt").is_file():
            raise ActrecError(f"resume=true: {path} has no checkpoints/last.ckpt to resume from")
        return path
    while not cfg.exist_ok and (path / "model.pt").exists():
        path, n = root / f"{cfg.name}{n}", n + 1
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_split_lists(splits: Splits, out: Path) -> None:
    """`train_list.txt` etc. in the list-file format, so a split can be re-used or evaluated."""
    for stage in ("train", "val", "test"):
        lines = [f"{Path(c.path).resolve()} {c.label}" for c in getattr(splits, stage)]
        (out / f"{stage}_list.txt").write_text("".join(f"{line}\n" for line in lines))


def _plot_curves(log: Path, path: Path) -> None:
    plt = pyplot()
    rows = np.genfromtxt(log, delimiter=",", names=True, dtype=float)
    names = rows.dtype.names or ()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, kind in zip(axes, ("loss", "acc"), strict=True):
        for stage in ("train", "val"):
            col = f"{stage}{kind}"  # genfromtxt drops the '/'
            if col in names:
                ok = ~np.isnan(rows[col])
                ax.plot(rows["epoch"][ok], rows[col][ok], label=stage)
        ax.set(xlabel="epoch", title=kind)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _merge_log(path: Path, old: list[dict]) -> None:
    """Lightning's CSVLogger starts metrics.csv afresh on resume: put the earlier epochs back."""
    new = list(csv.DictReader(path.open())) if path.is_file() else []
    first = min((int(float(r["epoch"])) for r in new if r.get("epoch")), default=1 << 30)
    rows = [r for r in old if r.get("epoch") and int(float(r["epoch"])) < first] + new
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=sorted({k for r in rows for k in r}))
        w.writeheader()
        w.writerows(rows)


def _trainer(cfg: Config, out: Path, has_val: bool) -> L.Trainer:
    quiet_lightning()
    # with a val split: keep the best epoch on val/acc; without one: the last epoch
    monitor = "val/acc" if has_val else None
    callbacks = [
        ModelCheckpoint(out / "checkpoints", "best", monitor=monitor, mode="max", save_last=True),
        RichProgressBar(leave=False),
    ]
    if has_val:
        callbacks.append(EarlyStopping(monitor, patience=cfg.train.patience, mode="max"))
    return L.Trainer(
        max_epochs=cfg.train.epochs,
        limit_val_batches=1.0 if has_val else 0,  # no empty val loop (and no warning about it)
        **asdict(cfg.trainer),
        callbacks=callbacks,
        logger=CSVLogger(out, name="logs", version=""),
        log_every_n_steps=1,
        enable_model_summary=False,
        default_root_dir=out,
    )


def _model(cfg: Config, source, classes: list[str], train_labels: list[int]):
    # a balanced sampler already evens the classes out: weighting the loss too would over-correct
    weighted = cfg.data.class_weights and cfg.data.sampler != "balanced"
    m, t = cfg.model, cfg.train
    init = _init_bundle(t.init, source.fingerprint) if t.init else None
    shape = _head_shape(m, init, t.init)
    model = ActionClassifier(
        source.feature_dim, classes, shape["hidden"], shape["layers"], m.dropout,
        shape["clip_norm"], t.lr, t.weight_decay, t.label_smoothing,
        class_weights(train_labels, len(classes)) if weighted else None,
    )  # fmt: skip
    if init:
        _start_from(model, init)
    return model


def _head_shape(m: ModelConfig, init: dict | None, name: str) -> dict:
    """model.hidden / layers / clip_norm: as set, else train.init's head, else the defaults. A
    setting that differs from train.init's head cannot be honoured (its weights are copied in):
    refused in one line rather than silently replaced."""
    shape = dict(init["head"]) if init else dict(HEAD_DEFAULTS)
    for key in HEAD_DEFAULTS:
        value = getattr(m, key)
        if value is None:
            continue
        if init and value != shape[key]:
            raise ActrecError(
                f"model.{key}={value} differs from train.init={name}'s head ({key}="
                f"{shape[key]}): leave model.{key} unset to start from it, or drop train.init"
            )
        shape[key] = value
    return shape


def _mirror_and_jitter(feats: np.ndarray, parts: tuple[str, ...], most: float) -> np.ndarray:
    return jitter(mirror(feats, parts), parts, most)


def _init_bundle(name: str, fingerprint: str) -> dict:
    """train.init's bundle, refused unless it was trained on the features this config makes."""
    bundle = load_bundle(name)
    if bundle["backbone"]["fingerprint"] != fingerprint:
        people = bundle["backbone"].get("people")
        how = f" (people.enabled=true people.parts={people['parts']})" if people else ""
        raise ActrecError(
            f"train.init={name}: it was trained on features '{bundle['backbone']['fingerprint']}'"
            f", this config makes '{fingerprint}'{how}"
        )
    return bundle


def _start_from(model: ActionClassifier, bundle: dict) -> None:
    """Copy a bundle's head in; its classifier rows go to the classes of the same name (the
    others start fresh)."""
    state = dict(bundle["state_dict"])
    w, b = state.pop("classify.1.weight"), state.pop("classify.1.bias")
    model.head.load_state_dict(state, strict=False)
    layer = model.head.classify[1]
    with torch.no_grad():
        for i, c in enumerate(model.hparams.classes):
            if c in bundle["classes"]:
                j = bundle["classes"].index(c)
                layer.weight[i], layer.bias[i] = w[j], b[j]


def train(cfg: Config, echo=print) -> dict:
    """Fit and test on `cfg`; returns the metrics written to `metrics.json`.

    With `trainer.devices` > 1 Lightning runs this in every DDP rank; only rank 0 speaks and
    writes the run folder's files.
    """
    L.seed_everything(cfg.train.seed, verbose=False)
    echo = rank_zero_only(echo)
    splits = build_splits(cfg.data)
    if len(splits.classes) < 2:
        raise ActrecError(f"training needs at least two classes; {cfg.data.train} has only "
                          f"'{splits.classes[0]}'")  # fmt: skip
    echo(f"clips: train {len(splits.train)}, val {len(splits.val)}, test {len(splits.test)}; "
         f"classes: {', '.join(splits.classes)}")  # fmt: skip
    source = feature_source(cfg)  # the backbone, or the people it finds
    backbone = source.backbone
    cache, summary = extract_dataset(cfg, [c.path for c in splits.all()], source, echo)
    L.seed_everything(cfg.train.seed, verbose=False)  # the same run whether extraction ran or not
    out = run_dir(cfg)
    if rank_zero_only.rank == 0:
        save_config(cfg, out / "config.yaml")
        write_split_lists(splits, out)
    stride = stride_steps(cfg.predict.stride, cfg.sample.fps)
    augment = None
    if cfg.people.enabled:  # half the crops mirrored, and blurred as small people's keypoints are
        augment = partial(_mirror_and_jitter, parts=tuple(cfg.people.parts), most=cfg.train.jitter)
    dm = datamodule_from_cache(splits, cache, summary.ok, cfg.data, cfg.train.seed, stride,
                               cfg.eval.clips, augment)  # fmt: skip
    model = _model(cfg, source, splits.classes, dm.splits["train"].labels)
    log = out / "logs" / "metrics.csv"
    old_log = list(csv.DictReader(log.open())) if cfg.resume and log.is_file() else []
    trainer = _trainer(cfg, out, bool(len(dm.splits["val"])))
    trainer.fit(model, dm, ckpt_path=out / "checkpoints" / "last.ckpt" if cfg.resume else None)
    best = trainer.checkpoint_callback.best_model_path or None
    if best:
        model = ActionClassifier.load_from_checkpoint(best)
    metrics = test_and_report(trainer, model, dm, out, "test") if len(dm.splits["test"]) else {}
    if not trainer.is_global_zero:
        return metrics
    if old_log:
        _merge_log(log, old_log)
    metrics.update(
        classes=splits.classes, best_checkpoint=best, backbone=source.fingerprint,
        pretrained=backbone.pretrained, weights=backbone.weights_source, warning=backbone.warning,
        clips={stage: len(dm.splits[stage]) for stage in ("train", "val", "test")},  # decoded
        videos_failed=len(summary.failed),
    )  # fmt: skip
    write_json(out / "metrics.json", metrics)
    _plot_curves(log, out / "curves.png")
    sample = dict(fps=cfg.sample.fps, window=cfg.data.window)
    with atomic_path(out / "model.pt") as tmp:  # a killed run never leaves half a bundle
        torch.save(model.to_bundle(source.describe(), sample, asdict(cfg.predict)), tmp)
    metrics.update(run_dir=str(out), cache_dir=cfg.cache_dir)
    return metrics
