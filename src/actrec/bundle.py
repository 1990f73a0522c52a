"""The model bundle: what `train` writes and `predict`, `live`, `evaluate` and `export` load.

After `backbone` and `people` in the flow (it rebuilds a bundle's feature source from them), before
`model`. A bundle is plain tensors and Python values, loaded with `torch.load(weights_only=True)`:
the head's weights and shape, class names, the backbone fingerprint and settings, sampling and
prediction settings. Nothing executable, nothing about the machine.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from actrec.backbone import Backbone
from actrec.config import FeatureSettings, PeopleSettings
from actrec.errors import ActrecError
from actrec.head import GRUHead, HeadEnsemble
from actrec.people import People, pose_backbone

BUNDLE_FORMAT = "actrec-bundle-3"  # bumped whenever the head or the bundle's layout changes
# The built-in model (`make builtin-model`): `predict` and `live` load it when no model is given.
BUILTIN_MODEL = Path(__file__).parent / "synthetic" / "builtin.pt"
BUILTIN_NOTE = (
    "no model given: the built-in model ({n} actions of people, trained on synthetic skeletons "
    "only); give a model.pt to use your own"
)


def make_bundle(
    head: GRUHead, classes: list[str], backbone: dict, sample: dict, predict: dict, **extra
) -> dict:
    """Everything predict/live need, as tensors and plain Python values (nothing executable).

    `backbone` is `Backbone.describe()`; `sample` holds fps and window; `predict` the stride.
    Nothing about the machine (device, batch, precision) is kept.
    """
    return dict(
        format=BUNDLE_FORMAT,
        state_dict={k: v.detach().cpu() for k, v in head.state_dict().items()},
        head=dict(head.config),
        classes=list(classes),
        backbone=backbone,
        sample=sample,
        predict=predict,
        **extra,
    )


def builtin_exports() -> Path:
    """Where `actrec export builtin` writes and `runtime=` finds the built-in model's graphs: the
    user's cache folder (the package's own may be read-only; XDG_CACHE_HOME moves it)."""
    from platformdirs import user_cache_path

    return user_cache_path("actrec", appauthor=False) / "builtin"


def model_file(model: str | Path) -> Path:
    """A MODEL argument → its bundle file: `builtin` names the one shipped in the package."""
    return BUILTIN_MODEL if str(model) == "builtin" else Path(model)


def load_bundle(path: str | Path) -> dict:
    """`torch.load(weights_only=True)` with one-line errors for a missing or foreign file.
    `builtin` names the model shipped in the package."""
    p = model_file(path)
    if p == BUILTIN_MODEL and not p.is_file():
        raise ActrecError(f"the built-in model is missing from this installation ({p}): "
                          "'make builtin-model' makes it")  # fmt: skip
    if not p.is_file():
        raise ActrecError(f"model file not found: {p}")
    not_ours = f"{p} is not an actrec model (those are written by 'actrec train')"
    if not zipfile.is_zipfile(p):  # every torch.save since PyTorch 1.6 is a zip archive
        raise ActrecError(f"{not_ours}: not a PyTorch file, or a damaged one")
    try:
        bundle = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # torch's long weights_only advice: not the user's business
        raise ActrecError(f"{not_ours}: it holds Python objects, as an ultralytics or other "
                          "PyTorch checkpoint does") from None  # fmt: skip
    except Exception as e:
        raise ActrecError(f"{not_ours}: {str(e).splitlines()[0]}") from None
    if not isinstance(bundle, dict) or not str(bundle.get("format", "")).startswith("actrec-"):
        raise ActrecError(not_ours)
    if bundle["format"] != BUNDLE_FORMAT:
        raise ActrecError(
            f"{p} is a {bundle['format']} bundle; this actrec reads {BUNDLE_FORMAT}: retrain it"
        )
    return bundle


def head_from_bundle(bundle: dict) -> GRUHead | HeadEnsemble:
    """The bundle's head, in eval mode: one GRUHead, or (`members`: the weights of heads trained
    with other seeds) their ensemble."""
    heads = []
    for state in bundle.get("members") or [bundle["state_dict"]]:
        head = GRUHead(**bundle["head"])
        head.load_state_dict(state)
        heads.append(head.eval())
    return heads[0] if len(heads) == 1 else HeadEnsemble(heads).eval()


def threshold_for(bundle: dict, given: float | None) -> float:
    """The unsure threshold: `given` (threshold=), else the model's `predict.threshold` (0.4
    for the built-in model, 0 for a trained one unless its config set it). `predict` and `live`
    both take it from here."""
    return bundle["predict"].get("threshold", 0.0) if given is None else given


def source_for_bundle(bundle: dict, device: str = "auto", **people) -> Backbone | People:
    """What the bundle's features came from, on `device`: its backbone, or the person stream over
    it (`people` overrides use-time settings such as `imgsz`); refused when the fingerprint
    differs."""
    desc = bundle["backbone"]
    settings = FeatureSettings(**desc["settings"], device=device)
    if "people" in desc:
        source = People(pose_backbone(settings), PeopleSettings(**{**desc["people"], **people}))
    else:
        source = Backbone(settings)
    want = desc["fingerprint"]
    if source.fingerprint != want:
        raise ActrecError(
            f"backbone mismatch: the model was trained on features '{want}' but this machine "
            f"loads '{source.fingerprint}' (different weights or feature settings)"
        )
    return source
