"""The layout docs/architecture.md describes: imports go forward along its layers only."""

from __future__ import annotations

import ast
import graphlib
import re
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


ARCHITECTURE = SRC.parent / "docs" / "architecture.md"
# the generated data's modules, below the stages that use them (docs/architecture.md's prose)
SYNTHETIC = {"actrec.synthetic.body": 0, "actrec.synthetic.synth": 1,
             "actrec.synthetic.workouts": 1, "actrec.synthetic.actions": 1.5,
             "actrec.synthetic.skeleton": 1.7, "actrec.synthetic": 0}  # fmt: skip
TOP = ("actrec", "actrec.__main__")  # the package's front door and `python -m actrec`


def _layers() -> dict[str, float]:
    """docs/architecture.md's layer table: `| N | `mod`, `mod` | ... |` → {actrec.mod: N}."""
    out = dict(SYNTHETIC)
    for line in ARCHITECTURE.read_text().splitlines():
        cells = [c.strip() for c in line.split("|")[1:-1]]
        if len(cells) >= 2 and cells[0].isdigit():
            for name in re.findall(r"`([a-z_.]+)`", cells[1]):
                out[f"actrec.{name}"] = int(cells[0])
    out["actrec.errors"] = -1  # the one exception type: every stage raises it, layer 0's too
    return out


def test_imports_go_forward_along_the_layers_the_architecture_page_lists():
    deps, layers = _imports(), _layers()
    missing = sorted(set(deps) - set(layers) - set(TOP))
    assert not missing, f"modules missing from docs/architecture.md's layer table: {missing}"
    backward = [(m, d) for m, ds in deps.items() if m not in TOP for d in ds
                if d.startswith("actrec.") and layers[d] >= layers[m]]  # fmt: skip
    assert not backward, f"imports that do not go to an earlier layer: {backward}"


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
