"""The MLflow reference model of the serve benchmark (`Cairn.Bench serve` with MLFLOW_SRC set).

Trains scikit-learn's HistGradientBoostingClassifier on the bench's generated rows (a CSV of f0..f19 and a 0/1 label)
and saves it with mlflow.sklearn.save_model, with a signature of 20 float32 columns, so `mlflow models serve` scores the
same dataframe_split bodies as `cairn serve`.

    python3 bench/mlflow_reference.py TRAIN_CSV MODEL_FOLDER
"""

import sys

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

import mlflow.sklearn
from mlflow.models import infer_signature


def main(argv):
    if len(argv) != 3:
        print("usage: mlflow_reference.py TRAIN_CSV MODEL_FOLDER", file=sys.stderr)
        return 2
    data = pd.read_csv(argv[1])
    features = [f"f{i}" for i in range(20)]
    missing = [c for c in features + ["label"] if c not in data.columns]
    if missing:
        print(f"{argv[1]}: missing columns {', '.join(missing)}", file=sys.stderr)
        return 2
    x = data[features].astype(np.float32)
    y = data["label"].astype(np.int64)
    # 100 iterations of trees with at most 20 leaves: the FastTree model's size (100 trees, 20 leaves).
    model = HistGradientBoostingClassifier(max_iter=100, max_leaf_nodes=20, random_state=1).fit(x, y)
    signature = infer_signature(x.head(5), model.predict(x.head(5)))
    # Requirements given, so MLflow does not infer them (that looks packages up on PyPI).
    mlflow.sklearn.save_model(model, argv[2], signature=signature, pip_requirements=["scikit-learn", "pandas"])
    print(f"trained HistGradientBoostingClassifier on {len(x)} rows, training accuracy {model.score(x, y):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
