"""
Image features: L2-regularized logistic regression on the digits
================================================================

64 pixel intensities of 8x8 handwritten digits (shipped with scikit-learn), ten
classes, multinomial logistic regression with l2reg's penalty
``mean log-loss + alpha * ||W||^2``.  Too little penalty overfits the small
training set, too much underfits; the table and ``digits_accuracy.png`` show
held-out accuracy against alpha.
"""

# %%
import os
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from l2reg import LogisticRegression

X, y = load_digits(return_X_y=True)
X = X / 16.0  # pixel intensities in [0, 1]
X_train, X_test, y_train, y_test = train_test_split(
    X, y, train_size=300, random_state=0, stratify=y
)
n_alphas = int(os.environ.get("L2REG_EXAMPLE_ALPHAS", 9))
alphas = np.geomspace(1e-5, 1e1, n_alphas)

# %%
# Fit along the grid, from strong to weak penalty, reusing each solution
# ----------------------------------------------------------------------
train_accuracy, test_accuracy, norms = [], [], []
model = LogisticRegression(warm_start=True)
for alpha in alphas[::-1]:
    model.set_params(alpha=alpha).fit(X_train, y_train)
    train_accuracy.append(model.score(X_train, y_train))
    test_accuracy.append(model.score(X_test, y_test))
    norms.append(np.linalg.norm(model.coef_))
train_accuracy, test_accuracy, norms = (
    np.array(v)[::-1] for v in (train_accuracy, test_accuracy, norms)
)
print(f"{'alpha':>9} {'train acc':>10} {'test acc':>9} {'||W||':>8}")
for row in zip(alphas, train_accuracy, test_accuracy, norms, strict=True):
    print(f"{row[0]:9.1e} {row[1]:10.3f} {row[2]:9.3f} {row[3]:8.2f}")
best = int(np.argmax(test_accuracy))
print(f"best held-out accuracy {test_accuracy[best]:.3f} at alpha = {alphas[best]:.1e}")

# %%
try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
if plt is not None:
    fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    ax.plot(alphas, train_accuracy, "o-", label="training accuracy")
    ax.plot(alphas, test_accuracy, "s-", label="held-out accuracy")
    ax.set_xscale("log")
    ax.set_xlabel("alpha (mean log-loss + alpha ||W||^2)")
    ax.set_ylabel("accuracy")
    ax.set_title("Digits: L2 logistic regression, accuracy against alpha")
    ax.legend()
    output = Path(os.environ.get("L2REG_EXAMPLE_OUTPUT", "."))
    fig.savefig(output / "digits_accuracy.png", dpi=100)
