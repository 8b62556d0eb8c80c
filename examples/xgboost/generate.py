#!/usr/bin/python3
"""Train a small XGBoost iris classifier and save it in XGBoost's JSON model format.

Run with Debian's python (the pyenv python first on PATH does not see the Debian packages):

    apt-get update && apt-get install -y --no-install-recommends python3-xgboost python3-sklearn python3-numpy
    /usr/bin/python3 examples/xgboost/generate.py

Writes, next to this script:
  model.json      Booster.save_model('model.json'): gbtree, objective multi:softprob, 3 classes, 4 features
  reference.json  test instances (null = a missing value) with what xgboost itself computes for them:
                  `probabilities` = Booster.predict (FP32 [n, 3]) and `labels` = their argmax.
Deterministic: fixed seed, single thread, fixed instance selection.
"""

import json
import os

import numpy as np
import sklearn
import xgboost as xgb
from sklearn.datasets import load_iris

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    iris = load_iris()
    params = {"objective": "multi:softprob", "num_class": 3, "max_depth": 3, "eta": 0.3, "tree_method": "hist",
              "seed": 0, "nthread": 1}
    booster = xgb.train(params, xgb.DMatrix(iris.data, label=iris.target), num_boost_round=5)
    booster.save_model(os.path.join(HERE, "model.json"))

    # Two rows of each class from the data set, two made-up rows, and two with missing measurements.
    instances = [iris.data[i].tolist() for i in [0, 25, 50, 75, 100, 125]]
    instances += [[6.0, 3.0, 4.8, 1.8], [5.0, 3.6, 1.3, 0.25], [6.3, None, 5.6, None], [None, None, None, None]]
    x = np.array([[np.nan if v is None else v for v in row] for row in instances], dtype=np.float64)
    probabilities = booster.predict(xgb.DMatrix(x))
    reference = {
        "description": "Reference outputs computed by xgboost itself (Booster.predict on a DMatrix of the "
        "instances; null = NaN = missing). The model server must match them to 1e-6.",
        "xgboost_version": xgb.__version__,
        "sklearn_version": sklearn.__version__,
        "input_name": "input",
        "class_names": iris.target_names.tolist(),
        "feature_names": iris.feature_names,
        "instances": instances,
        "probabilities": probabilities.tolist(),
        "labels": [int(v) for v in probabilities.argmax(axis=1)],
    }
    with open(os.path.join(HERE, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(reference, f, indent=2)
        f.write("\n")
    accuracy = float((booster.predict(xgb.DMatrix(iris.data)).argmax(axis=1) == iris.target).mean())
    print("wrote model.json (%d bytes) and reference.json; training accuracy %.3f"
          % (os.path.getsize(os.path.join(HERE, "model.json")), accuracy))


if __name__ == "__main__":
    main()
