"""Training and evaluation: catalog → extract what is missing → fit → test → run folder + bundle.

Eighth stage of the flow. A run folder `runs/<name>/` holds the resolved config, Lightning
checkpoints and CSV logs, `metrics.json`, `confusion_matrix.png`, `curves.png` and `model.pt`: the
bundle `predict` and `live` load with `torch.load(weights_only=True)` (weights, class names,
backbone fingerprint and settings, sampling, head hyperparameters; nothing executable).
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import asdict
from functools import partial
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint, RichProgressBar
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities import rank_zero_only
from torchmetrics.functional.classification import multiclass_accuracy

from actrec.backbone import Backbone
from actrec.cache import FeatureCache
from actrec.catalog import Clip, Splits, build_splits, load_clips
from actrec.config import Config, save_config
from actrec.data import SequenceDataModule, class_weights, clip_starts
from actrec.errors import ActrecError
from actrec.extract import extract, quiet_lightning, report
from actrec.model import (
    ActionClassifier,
    backbone_for_bundle,
    load_bundle,
    make_bundle,
)

log = logging.getLogger("actrec")


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


def extract_splits(cfg: Config, splits: Splits, backbone: Backbone, echo=print) -> FeatureCache:
    """Fill the cache for every clip of every split; failures are reported, not fatal."""
    cache = FeatureCache(cfg.cache_dir, backbone.fingerprint, cfg.sample.fps)
    paths = [c.path for c in splits.all()]
    s = cfg.sample
    summary = extract(
        paths, backbone, cache, s.fps, s.chunk, s.workers, trainer=asdict(cfg.trainer)
    )
    if rank_zero_only.rank == 0:  # every rank's sidecars are in by now (extract's barrier)
        cache.write_manifest({"backbone": backbone.describe(), "sample": asdict(cfg.sample)})
    report(summary, echo)
    return cache


def _load(cache: FeatureCache, paths: list[str], i: int) -> np.ndarray:
    return cache.load(paths[i])  # memory-mapped (T, D); a partial of this pickles (ddp_spawn)


def _usable(clips: list[Clip], cache: FeatureCache) -> list[Clip]:
    return [c for c in clips if (e := cache.entry(c.path)) is not None and e.status == "ok"]


def datamodule(cfg: Config, splits: Splits, cache: FeatureCache) -> SequenceDataModule:
    parts = {}
    for stage in ("train", "val", "test"):
        clips = _usable(getattr(splits, stage), cache)
        load = partial(_load, cache, [c.path for c in clips])
        parts[stage] = (load, [splits.classes.index(c.label) for c in clips])
    if not parts["train"][1]:
        raise ActrecError("no training video could be decoded")
    d = cfg.data
    if d.sampler not in ("shuffle", "balanced"):
        raise ActrecError(f"data.sampler must be 'shuffle' or 'balanced', got {d.sampler!r}")
    return SequenceDataModule(parts, d.window, d.batch, d.workers, d.sampler, cfg.train.seed)


def _weighted_loss(cfg: Config) -> bool:
    # a balanced sampler already evens the classes out: weighting the loss too would over-correct
    return cfg.data.class_weights and cfg.data.sampler != "balanced"


@torch.inference_mode()
def multi_clip(head, arrays: list, labels: list[int], window: int, k: int, n_cls: int) -> dict:
    """MMAction2's multi-view test: the mean of the head's probabilities over `k` evenly spaced
    windows of each video → top-1 and mean class accuracy, keyed `test/acc_<k>clip`."""
    probs = []
    for arr in arrays:  # memory-mapped (T, D) float16
        x = np.stack([arr[s : s + window] for s in clip_starts(len(arr), window, k)])
        probs.append(torch.softmax(head(torch.from_numpy(x.astype(np.float32))), -1).mean(0))
    p, y = torch.stack(probs), torch.tensor(labels)  # (N, C), (N,)
    acc = multiclass_accuracy(p, y, n_cls, average="micro")
    mca = multiclass_accuracy(p, y, n_cls, average="macro")
    return {f"test/acc_{k}clip": float(acc), f"test/mean_class_acc_{k}clip": float(mca)}


def _pyplot():
    """matplotlib's pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_confusion(cm: np.ndarray, classes: list[str], path: Path, title: str) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * len(classes),) * 2)
    ax.imshow(cm, cmap="Blues")
    ax.set(xticks=range(len(classes)), yticks=range(len(classes)), title=title)
    ax.set_xticklabels(classes, rotation=45, ha="right")
    ax.set_yticklabels(classes)
    ax.set(xlabel="predicted", ylabel="true")
    for (i, j), v in np.ndenumerate(cm):
        ax.text(j, i, int(v), ha="center", va="center", color="black" if v < cm.max() / 2 else "w")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_curves(csv: Path, path: Path) -> None:
    plt = _pyplot()
    rows = np.genfromtxt(csv, delimiter=",", names=True, dtype=float)
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


def train(cfg: Config, echo=print) -> dict:
    """Fit and test on `cfg`; returns the metrics written to `metrics.json`.

    With `trainer.devices` > 1 Lightning runs this in every DDP rank; only rank 0 speaks and
    writes the run folder's files.
    """
    L.seed_everything(cfg.train.seed, verbose=False)
    echo = rank_zero_only(echo)
    splits = build_splits(cfg.data)
    echo(f"clips: train {len(splits.train)}, val {len(splits.val)}, test {len(splits.test)}; "
         f"classes: {', '.join(splits.classes)}")  # fmt: skip
    backbone = Backbone(cfg.features)
    cache = extract_splits(cfg, splits, backbone, echo)
    L.seed_everything(cfg.train.seed, verbose=False)  # the same run whether extraction ran or not
    out = run_dir(cfg)
    if rank_zero_only.rank == 0:
        save_config(cfg, out / "config.yaml")
        write_split_lists(splits, out)
    dm = datamodule(cfg, splits, cache)
    model = ActionClassifier(
        backbone.feature_dim, splits.classes, cfg.model.hidden, cfg.model.layers,
        cfg.model.dropout, cfg.model.clip_norm, cfg.train.lr, cfg.train.weight_decay,
        cfg.train.label_smoothing,
        class_weights(dm.splits["train"][1], len(splits.classes)) if _weighted_loss(cfg) else None,
    )  # fmt: skip
    has_val = bool(dm.splits["val"][1])
    log = out / "logs" / "metrics.csv"
    old_log = list(csv.DictReader(log.open())) if cfg.resume and log.is_file() else []
    trainer = _trainer(cfg, out, has_val)
    trainer.fit(model, dm, ckpt_path=out / "checkpoints" / "last.ckpt" if cfg.resume else None)
    best = trainer.checkpoint_callback.best_model_path or None
    if best:
        model = ActionClassifier.load_from_checkpoint(best)
    metrics: dict = {}
    if dm.splits["test"][1]:
        model.confusion.reset()
        metrics = {k: float(v) for k, v in trainer.test(model, dm, verbose=False)[0].items()}
        metrics["confusion_matrix"] = model.confusion.compute().cpu().numpy().tolist()  # all ranks
    if not trainer.is_global_zero:
        return metrics
    if old_log:
        _merge_log(log, old_log)
    if "confusion_matrix" in metrics:
        _plot_confusion(np.array(metrics["confusion_matrix"]), splits.classes,
                        out / "confusion_matrix.png", "test")  # fmt: skip
        if cfg.eval.clips > 1:
            load, labels = dm.splits["test"]
            arrays = [load(i) for i in range(len(labels))]
            metrics |= multi_clip(model.head.eval(), arrays, labels, cfg.data.window,
                                  cfg.eval.clips, len(splits.classes))  # fmt: skip
    metrics.update(
        classes=splits.classes, best_checkpoint=best, backbone=backbone.fingerprint,
        pretrained=backbone.pretrained, warning=backbone.warning,
        clips={stage: len(dm.splits[stage][1]) for stage in ("train", "val", "test")},  # decoded
        videos_failed=len(splits.all()) - len(_usable(splits.all(), cache)),
    )  # fmt: skip
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    _plot_curves(out / "logs" / "metrics.csv", out / "curves.png")
    sample = dict(fps=cfg.sample.fps, chunk=cfg.sample.chunk, window=cfg.data.window)
    bundle = make_bundle(model, backbone.describe(), sample, asdict(cfg.predict))
    torch.save(bundle, out / "model.pt")
    metrics.update(run_dir=str(out), cache_dir=cfg.cache_dir)
    return metrics


def evaluate(
    model_path: str | Path,
    data: str | Path,
    cache_dir: str = "data/cache",
    echo=print,
    clips_per_video: int = 1,
) -> dict:
    """Metrics and confusion matrix of a bundle on a dataset (folder or list file).

    Written to `<model folder>/eval/`; the clips are scored as in `train`'s test stage, and
    with `clips_per_video` > 1 also averaged over that many windows per video.
    """
    bundle = load_bundle(model_path)
    backbone = backbone_for_bundle(bundle)
    classes = bundle["classes"]
    clips = load_clips(data, "", classes)
    s = bundle["sample"]
    cache = FeatureCache(cache_dir, backbone.fingerprint, s["fps"])
    report(extract([c.path for c in clips], backbone, cache, s["fps"], s["chunk"]), echo)
    clips = _usable(clips, cache)
    if not clips:
        raise ActrecError(f"no video of {data} could be decoded")
    load = partial(_load, cache, [c.path for c in clips])
    dm = SequenceDataModule({"test": (load, [classes.index(c.label) for c in clips])}, s["window"])
    model = ActionClassifier(**{k: v for k, v in bundle["head"].items() if k != "num_classes"},
                             classes=classes)  # fmt: skip
    model.head.load_state_dict(bundle["state_dict"])
    quiet_lightning()
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_model_summary=False,
                        callbacks=[RichProgressBar(leave=False)])  # fmt: skip
    metrics = {k: float(v) for k, v in trainer.test(model, dm, verbose=False)[0].items()}
    if clips_per_video > 1:
        labels = [classes.index(c.label) for c in clips]
        arrays = [load(i) for i in range(len(clips))]
        metrics |= multi_clip(model.head.eval(), arrays, labels, s["window"], clips_per_video,
                              len(classes))  # fmt: skip
    out = Path(model_path).parent / "eval"
    out.mkdir(exist_ok=True)
    cm = model.confusion.compute().cpu().numpy()
    _plot_confusion(cm, classes, out / "confusion_matrix.png", f"{Path(data).name}")
    metrics.update(clips=len(clips), data=str(data), confusion_matrix=cm.tolist(), classes=classes)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    metrics["out_dir"] = str(out)
    return metrics
