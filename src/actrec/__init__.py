"""actrec: video action recognition. `from actrec import Model`; `Model().predict("clip.mp4")`.

The package's front door (the API is `api`, the answers `results`). Names load on first use, so
`import actrec` and `actrec --help` start without torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from actrec.api import Model, train
    from actrec.results import Event, Person, RepSet, Result, Window

_WHERE = {
    "Model": "actrec.api",
    "train": "actrec.api",
    "Result": "actrec.results",
    "Person": "actrec.results",
    "Event": "actrec.results",
    "RepSet": "actrec.results",
    "Window": "actrec.results",
}
__all__ = ["Model", "train", "Result", "Person", "Event", "RepSet", "Window"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'actrec' has no attribute {name!r}")
