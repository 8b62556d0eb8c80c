#!/usr/bin/python3
"""Train a small iris classifier with scikit-learn and write it as a hand-built ONNX graph.

Run with Debian's python (the pyenv python first on PATH does not see the Debian packages):

    apt-get install -y --no-install-recommends python3-sklearn python3-onnx python3-numpy
    /usr/bin/python3 examples/iris/generate.py

Writes, next to this script:
  model.onnx      input  `input`         FP32 [N, 4]
                  output `probabilities` FP32 [N, 3]   (softmax of the linear scores, = predict_proba)
                  output `label`         INT64 [N]     (argmax, = predict)
  reference.json  test instances with probabilities and labels computed by scikit-learn itself
                  (predict_proba / predict), independent of onnxruntime and of the model server.
Deterministic: fixed random_state, fixed instance selection.
"""

import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

HERE = os.path.dirname(os.path.abspath(__file__))


def train():
    iris = load_iris()
    x, y = iris.data, iris.target
    clf = LogisticRegression(max_iter=1000, random_state=0)  # lbfgs, multinomial for 3 classes
    clf.fit(x, y)
    return iris, clf


def build_onnx(clf):
    # scores = input @ coef_.T + intercept_ ; probabilities = softmax(scores) ; label = argmax(scores)
    w = numpy_helper.from_array(clf.coef_.T.astype(np.float32), name="coef")  # [4, 3]
    b = numpy_helper.from_array(clf.intercept_.astype(np.float32), name="intercept")  # [3]
    nodes = [
        helper.make_node("Gemm", ["input", "coef", "intercept"], ["scores"], name="linear"),
        helper.make_node("Softmax", ["scores"], ["probabilities"], name="softmax", axis=1),
        helper.make_node("ArgMax", ["scores"], ["label"], name="argmax", axis=1, keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        "iris_logistic_regression",
        inputs=[helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 4])],
        outputs=[
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 3]),
            helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
        ],
        initializer=[w, b],
    )
    model = helper.make_model(
        graph,
        producer_name="merlin-serverless examples/iris/generate.py",
        opset_imports=[helper.make_opsetid("", 13)],
    )
    model.ir_version = 8
    model.doc_string = "sklearn LogisticRegression on iris (features: sepal length, sepal width, petal length, petal width in cm)"
    onnx.checker.check_model(model)
    return model


def reference(iris, clf):
    # Two rows of each class from the dataset plus two made-up rows.
    rows = [0, 25, 50, 75, 100, 125]
    instances = [iris.data[i].tolist() for i in rows] + [[6.0, 3.0, 4.8, 1.8], [5.0, 3.6, 1.3, 0.25]]
    x = np.array(instances, dtype=np.float64)
    return {
        "description": "Reference outputs computed by scikit-learn (LogisticRegression.predict_proba / predict) "
        "in float64; model.onnx computes in float32, compare with a tolerance of 1e-5.",
        "sklearn_version": __import__("sklearn").__version__,
        "input_name": "input",
        "class_names": iris.target_names.tolist(),
        "instances": instances,
        "probabilities": clf.predict_proba(x).tolist(),
        "labels": [int(v) for v in clf.predict(x)],
    }


def main():
    iris, clf = train()
    onnx.save_model(build_onnx(clf), os.path.join(HERE, "model.onnx"))
    with open(os.path.join(HERE, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(reference(iris, clf), f, indent=2)
        f.write("\n")
    print("wrote model.onnx and reference.json; training accuracy %.3f" % clf.score(iris.data, iris.target))


if __name__ == "__main__":
    main()
