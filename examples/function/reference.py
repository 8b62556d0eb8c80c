"""Reference outputs for examples/function, computed with numpy independently of index.mjs and of the model server.

Run: /usr/bin/python3 examples/function/reference.py  (writes reference.json next to this file; deterministic)
"""
import json
import pathlib

import numpy as np

here = pathlib.Path(__file__).parent
card = json.loads((here / "scorecard.json").read_text())

# income (thousands), debt (thousands), age (years), late payments (count): two applicants per decision, one in the
# middle of each band and one nearer its edge (but far from it in float terms).
instances = [
    [85.0, 5.0, 52.0, 0.0],
    [52.0, 9.5, 41.0, 0.0],
    [30.0, 12.0, 25.0, 1.0],
    [40.0, 20.0, 35.0, 1.0],
    [18.0, 30.0, 22.0, 3.0],
    [25.0, 45.0, 30.0, 2.0],
]

X = np.array(instances, dtype=np.float64)
w = np.array(card["weights"], dtype=np.float64)
contributions = X * w
z = card["intercept"] + contributions.sum(axis=1)
p = 1.0 / (1.0 + np.exp(-z))
decisions = np.where(p < card["approve_below"], "approve", np.where(p < card["decline_from"], "review", "decline"))

reference = {
    "features": card["features"],
    "instances": instances,
    "probabilities": p.tolist(),
    "decisions": decisions.tolist(),
    "contributions": contributions.tolist(),
}
(here / "reference.json").write_text(json.dumps(reference, indent=2) + "\n")
print(json.dumps({"probabilities": reference["probabilities"], "decisions": reference["decisions"]}))
