"""Does a setting keep tfstyle's final loss? tfstyle's defaults against changed settings on the README's
three image pairs, in one run.

    PYTHONPATH=src python bench/final_loss.py --size 256 --set lr_schedule=cosine

Each configuration runs tfstyle's own objective (its defaults: random VGG19, default layers and
weights) for the default step budget (``--steps``); printed per pair: the loss of the best image so far
after every ``--at`` step (a coarse scale's own loss while it runs) and of the best full-size image at the end, and the changed setting's final loss over the default's.
A speed lever is kept only where it does not make the end result worse (the loss after the whole
budget), whatever it buys on the way.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from offline import IMAGES, PAIRS  # the README's three pairs, defined once


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--steps", type=int, help="step budget (default: StylizeConfig's)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="a StylizeConfig field for the changed configuration (repeatable)")
    p.add_argument("--at", default="50,100,150", help="also report the loss after these steps")
    p.add_argument("--pairs", default="0,1,2", help="which of the three pairs (0-based, comma-separated)")
    p.add_argument("--json", type=Path, help="write the histories here")
    p.add_argument("--changed-only", action="store_true",
                   help="run only the changed configuration (compare its finals with an earlier defaults run)")
    a = p.parse_args(argv)

    import numpy as np

    import tfstyle
    from tfstyle.io.images import load_image

    changed = dict(kv.split("=", 1) for kv in a.set)
    changed = {k: _value(v) for k, v in changed.items()}
    base = {"size": a.size, "backbone": "random", **({"steps": a.steps} if a.steps else {})}
    at = [int(s) for s in a.at.split(",") if s]
    label = ", ".join(f"{k}={v}" for k, v in changed.items()) or "defaults"
    rows, out = [], {"size": a.size, "set": changed, "pairs": []}
    for c_name, s_name in [PAIRS[int(i)] for i in a.pairs.split(",")]:
        content = load_image(IMAGES / "content" / c_name)
        style = load_image(IMAGES / "style" / s_name)
        finals = []
        configs = [("defaults", base), (label, {**base, **changed})][1 if a.changed_only else 0:]
        for name, fields in configs:
            t0 = time.perf_counter()
            res = tfstyle.stylize(content, style, tfstyle.StylizeConfig(**fields))
            seconds = time.perf_counter() - t0
            total = np.asarray(res.history["total"])
            # The full-size scale's steps are the last ones; earlier scales' losses are of other sizes.
            first = len(total) - (res.scales[-1].steps if res.scales else len(total))
            best = np.concatenate([total[:first], np.minimum.accumulate(total[first:])])
            marks = [float(best[s - 1]) for s in at if s <= len(best)]
            finals.append(float(best[-1]))
            rows.append((f"{c_name} / {s_name}", name, marks, finals[-1], seconds))
            out["pairs"].append({"content": c_name, "style": s_name, "config": name,
                                 "history": [float(v) for v in total], "final": finals[-1],
                                 "seconds": seconds})
            print(f"{c_name} / {s_name}, {name}: final {finals[-1]:.4f} in {seconds:.0f} s", flush=True)
        if len(finals) == 2:
            rows.append((None, None, None, finals[1] / finals[0], None))
    print(f"\nsize {a.size}, {len(total)} steps; changed: {label}")
    print("| pair | configuration | " + " | ".join(f"best after {s}" for s in at) + " | final | wall s |")
    print("|---|---|" + "---|" * len(at) + "---|---|")
    for pair, name, marks, final, seconds in rows:
        if pair is None:
            print(f"| | changed / defaults | " + " | " * len(at) + f"**{final:.3f}** | |")
            continue
        cells = " | ".join(f"{m:.4f}" for m in marks) + " | " * (len(at) - len(marks))
        print(f"| {pair} | {name} | {cells} | {final:.4f} | {seconds:.0f} |")
    if a.json:
        a.json.write_text(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
