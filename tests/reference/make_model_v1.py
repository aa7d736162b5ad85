"""Writes model_v1.l2reg, the golden file of model format 1 (run once; keep the file).

``python tests/reference/make_model_v1.py`` — tests/test_io.py checks that later
versions of l2reg still load it and predict the values stored beside it.
"""

import json
from pathlib import Path

import numpy as np

import l2reg

HERE = Path(__file__).parent
rng = np.random.default_rng(2026)
X = rng.standard_normal((30, 3))
y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.standard_normal(30)
model = l2reg.Ridge(alpha=0.05).fit(X, y)
l2reg.save(model, HERE / "model_v1.l2reg")
probe = rng.standard_normal((4, 3))
(HERE / "model_v1.json").write_text(
    json.dumps(
        {
            "l2reg_version": l2reg.__version__,
            "probe": probe.tolist(),
            "predictions": [float(v).hex() for v in model.predict(probe)],
        },
        indent=1,
    )
)
