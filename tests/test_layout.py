"""The layout docs/architecture.md describes: imports go forward along the flow only."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _imports() -> dict[str, set[str]]:
    """module → the modules it imports (actrec's own by dotted name, others by top package)."""
    out = {}
    for p in sorted((SRC / "actrec").rglob("*.py")):
        mod = ".".join(p.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
        names = set()
        for n in ast.walk(ast.parse(p.read_text())):
            if isinstance(n, ast.ImportFrom) and n.module and n.level == 0:
                names.add(n.module)
            elif isinstance(n, ast.Import):
                names |= {a.name for a in n.names}
        out[mod] = {m if m.startswith("actrec") else m.split(".")[0] for m in names} - {mod}
    return out


def test_no_import_cycles_and_the_leaves_import_no_stage():
    deps = _imports()
    ours = {m: {d for d in ds if d.startswith("actrec.")} for m, ds in deps.items()}
    list(graphlib.TopologicalSorter(ours).static_order())  # CycleError on a cycle
    assert ours["actrec.head"] == set()  # torch alone: the network and the window rule
    assert ours["actrec.overlay"] == set()  # drawing
    assert ours["actrec.pose"] == {"actrec.errors"}  # numpy features of a track
    assert ours["actrec.config"] <= {"actrec.errors", "actrec.keys"}  # help starts fast


def test_only_the_model_modules_import_ultralytics_and_only_the_loops_lightning():
    deps = _imports()
    assert {m for m, ds in deps.items() if "ultralytics" in ds} == {
        "actrec.weights", "actrec.people"}  # fmt: skip
    light = {m for m, ds in deps.items() if "lightning" in ds}
    assert not light & {"actrec.predict", "actrec.live", "actrec.head", "actrec.bundle"}
