"""Where `actrec predict MODEL vtest.avi` spends its time, per runtime: start-up (imports, bundle,
backbone), decoding alone, the backbone on decoded frames, the head on the windows.

Each runtime in a fresh process, so start-up counts as a user sees it.

    python bench/predict_profile.py runs/demo/model.pt [--runtimes torch onnx]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

VIDEO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "formats" / "vtest.avi"


def profile(model: str, runtime: str) -> dict:
    t0 = time.perf_counter()
    import numpy as np

    from actrec import Model
    from actrec.features import chunks_for
    from actrec.head import score_windows, stride_steps, window_starts

    t_import = time.perf_counter()
    loaded = Model(model, "cpu", runtime, echo=lambda *_: None).loaded
    bundle, head, source = loaded.bundle, loaded.head, loaded.source
    t_load = time.perf_counter()
    fps = bundle["sample"]["fps"]
    chunks = list(iter(chunks_for(source, [str(VIDEO)], fps)))  # decode only, this process
    t_decode = time.perf_counter()
    stream = source.stream(fps)
    for c in chunks:
        if not c["last"]:
            stream.push(np.asarray(c["frames"]), np.asarray(c["times"]), c["scale"])
    feats, times, _ = stream.result()
    t_backbone = time.perf_counter()
    s = bundle["sample"]
    starts = window_starts(len(feats), s["window"], stride_steps(1.0, fps))
    score_windows(head, feats, s["window"], starts)
    t_head = time.perf_counter()
    return dict(runtime=runtime, frames=len(feats), imports_s=t_import - t0,
                load_s=t_load - t_import, decode_s=t_decode - t_load,
                backbone_s=t_backbone - t_decode, head_s=t_head - t_backbone)  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model")
    p.add_argument("--runtimes", nargs="+", default=["torch", "onnx"])
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        print(json.dumps(profile(a.model, a.child)))
        return
    for rt in a.runtimes:
        t = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, a.model, "--child", rt],
                             capture_output=True, text=True, check=True)  # fmt: skip
        r = json.loads(out.stdout.strip().splitlines()[-1])
        wall = time.perf_counter() - t
        print(f"{rt:6s} {r['frames']} frames: imports {r['imports_s']:.2f} s, bundle + backbone "
              f"{r['load_s']:.2f} s, decode {r['decode_s']:.2f} s, backbone {r['backbone_s']:.2f}"
              f" s, head {r['head_s']:.2f} s; process {wall:.2f} s (decode and backbone in "
              f"sequence here; predict overlaps them)")  # fmt: skip


if __name__ == "__main__":
    main()
