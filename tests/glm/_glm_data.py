"""Small GLM data sets shared by the tests in this folder (never by benchmarks)."""

import numpy as np


def binary_data(rng, n=200, p=5, scale=1.0):
    X = rng.standard_normal((n, p)) * scale
    coef = rng.standard_normal(p) / np.sqrt(p)
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ coef / scale) - 0.3))).astype(int)
    return X, y


def multiclass_data(rng, n=200, p=5, n_classes=3):
    X = rng.standard_normal((n, p))
    coef = rng.standard_normal((p, n_classes))
    logits = X @ coef
    probability = np.exp(logits - logits.max(axis=1, keepdims=True))
    probability /= probability.sum(axis=1, keepdims=True)
    y = np.array([rng.choice(n_classes, p=row) for row in probability])
    return X, y


def count_data(rng, n=200, p=5):
    X = rng.standard_normal((n, p))
    coef = rng.standard_normal(p) * 0.3
    y = rng.poisson(np.exp(X @ coef + 0.5)).astype(float)
    return X, y


def weights_for(rng, n, weighted):
    return rng.uniform(0.2, 3.0, n) if weighted else None
