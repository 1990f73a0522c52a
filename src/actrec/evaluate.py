"""Testing a model: the test-and-report step that `train` ends with, and `actrec evaluate`.

After `model` in the flow. Each test video is labelled by `predict`'s rule (the mean of its
sliding windows' probabilities, `head.video_label`), so `metrics.json` measures what `predict`
answers; `eval.clips=K` adds MMAction2's K-clip figure. Writes `metrics.json` and
`confusion_matrix.png` into the run folder (`evaluate`: its `eval/` sub-folder).
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
from lightning.pytorch.callbacks import RichProgressBar

from actrec.bundle import (
    BUILTIN_MODEL,
    head_from_bundle,
    load_bundle,
    model_file,
    source_for_bundle,
)
from actrec.cache import FeatureCache
from actrec.catalog import load_clips
from actrec.data import SequenceDataModule, split_from_cache
from actrec.errors import ActrecError
from actrec.extract import extract, quiet_lightning, report
from actrec.head import stride_steps
from actrec.model import ActionClassifier
from actrec.options import EvaluateOptions
from actrec.outputs import write_json
from actrec.runtime import GraphHead, use_runtime

LABEL_RULE = "mean of the probabilities of windows every predict.stride seconds (as predict)"


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(cm: np.ndarray, classes: list[str], path: Path, title: str) -> None:
    plt = pyplot()
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


def test_and_report(
    trainer: L.Trainer, model: ActionClassifier, dm: SequenceDataModule, out: Path, title: str
) -> dict:
    """Run the test stage; on rank 0 plot the confusion matrix into `out`. → metrics."""
    model.confusion.reset()
    results = trainer.test(model, dm, verbose=False)
    metrics = {k: float(v) for r in results for k, v in r.items()}
    cm = model.confusion.compute().cpu().numpy()  # synced over the DDP ranks
    metrics.update(confusion_matrix=cm.tolist(), label_rule=LABEL_RULE)
    if trainer.is_global_zero:
        plot_confusion(cm, model.hparams.classes, out / "confusion_matrix.png", title)
    return metrics


def test_trainer() -> L.Trainer:
    quiet_lightning()
    return L.Trainer(logger=False, enable_checkpointing=False, enable_model_summary=False,
                     callbacks=[RichProgressBar(leave=False)])  # fmt: skip


def evaluate(model_path: str | Path, opts: EvaluateOptions, echo=print) -> dict:
    """Metrics and confusion matrix of a bundle on a dataset (folder or list file; by default
    the run's `test_list.txt`), written to `<model folder>/eval/`."""
    builtin = model_file(model_path) == BUILTIN_MODEL
    data = opts.data or (None if builtin else Path(model_path).parent / "test_list.txt")
    if data is None:
        raise ActrecError("the built-in model has no test list of its own: give data=...")
    if not Path(data).exists():
        raise ActrecError(f"no dataset to evaluate on: {data} not found (give data=...)")
    bundle = load_bundle(model_path)
    classes, s = bundle["classes"], bundle["sample"]
    clips = load_clips(data, "", classes)
    source = source_for_bundle(bundle, opts.device)
    head = use_runtime(model_path, opts.runtime, head_from_bundle(bundle), source, echo)
    cache = FeatureCache(opts.cache_dir, source.cache_key, s["fps"])
    summary = extract([c.path for c in clips], source, cache, s["fps"])
    report(summary, echo)
    split = split_from_cache(clips, classes, cache, summary.ok)
    if not split.labels:
        raise ActrecError(f"no video of {data} could be decoded")
    stride = stride_steps(bundle["predict"]["stride"], s["fps"])
    dm = SequenceDataModule({"test": split}, s["window"], stride=stride, clips=opts.clips)
    default = Path("runs/builtin/eval") if builtin else Path(model_path).parent / "eval"
    out = Path(opts.out) if opts.out else default
    out.mkdir(parents=True, exist_ok=True)
    model = ActionClassifier.from_bundle(bundle)
    if isinstance(head, GraphHead):  # ONNX Runtime or OpenVINO behind the same methods
        model.head = head
    metrics = test_and_report(test_trainer(), model, dm, out, Path(data).name)
    metrics.update(clips=len(split), data=str(data), classes=classes)
    write_json(out / "metrics.json", metrics)
    metrics["out_dir"] = str(out)
    return metrics
