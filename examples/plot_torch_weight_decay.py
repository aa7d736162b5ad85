"""
PyTorch weight decay as L2 regularization: a small MLP on the digits
=====================================================================

We train the same multilayer perceptron three times on scikit-learn's digits
(8x8 images, shipped with scikit-learn, no download), on a deliberately small
training set so that it overfits:

* without regularization;
* with ``weight_decay = 2 * alpha`` in ``torch.optim.SGD``, on the parameter
  groups of :func:`l2reg.torch.param_groups` (biases not decayed);
* with the explicit penalty ``loss + l2reg.torch.l2_penalty(model, alpha)``.

The last two minimize the same objective, l2reg's ``mean loss + alpha *
||theta||^2``, and follow the same trajectory (up to rounding).  The
table shows the train/test gap and the squared norm of the penalized weights.

Set ``L2REG_EXAMPLE_EPOCHS`` to train for fewer epochs (the tests do).  A plot
is saved as ``torch_weight_decay.png`` only if matplotlib is installed.
"""

# %%
# Data and model
# --------------
import copy
import os
import time

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from l2reg.conventions import to_torch_weight_decay
from l2reg.torch import l2_penalty, named_penalized_parameters, param_groups

# Two threads: the example must run in under a minute on a 2-core machine.
torch.set_num_threads(2)
torch.manual_seed(0)

EPOCHS = int(os.environ.get("L2REG_EXAMPLE_EPOCHS", "150"))
ALPHA = 3e-3  # l2reg's alpha: mean cross-entropy + ALPHA * ||W||^2
LR, MOMENTUM, BATCH = 0.05, 0.9, 50

digits = load_digits()
# float64 so that the two L2 runs below can be compared to rounding level.
X = torch.tensor(digits.data / 16.0, dtype=torch.float64)  # pixels in [0, 1]
y = torch.tensor(digits.target)
# 300 training images out of 1,797: few enough for an unregularized MLP to
# reach zero training error quickly and then only grow its weights.
train_idx, test_idx = train_test_split(
    range(len(y)), train_size=300, stratify=digits.target, random_state=0
)
X_train, y_train, X_test, y_test = X[train_idx], y[train_idx], X[test_idx], y[test_idx]

initial_model = nn.Sequential(
    nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
).double()
cross_entropy = nn.CrossEntropyLoss()  # reduction="mean": l2reg's convention


def penalized_sq_norm(model):
    """||W||^2 over the parameters l2_penalty penalizes (weights, not biases)."""
    return sum(float(p.detach().square().sum()) for _, p in named_penalized_parameters(model))


def train(model, optimizer, alpha_in_loss):
    """Mini-batch training; the same batch order for every run (fixed generator)."""
    order = torch.Generator().manual_seed(1)
    for _ in range(EPOCHS):
        for batch in torch.randperm(len(y_train), generator=order).split(BATCH):
            loss = cross_entropy(model(X_train[batch]), y_train[batch])
            if alpha_in_loss:
                loss = loss + l2_penalty(model, alpha_in_loss)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model


@torch.no_grad()
def scores(model):
    out = {}
    splits = {"train": (X_train, y_train), "test": (X_test, y_test)}
    for split, (X_split, y_split) in splits.items():
        logits = model(X_split)
        out[f"{split}_loss"] = float(cross_entropy(logits, y_split))
        out[f"{split}_acc"] = float((logits.argmax(1) == y_split).float().mean())
    return out


# %%
# Three runs from the same initial weights
# ----------------------------------------
start = time.perf_counter()
runs = {}

model = copy.deepcopy(initial_model)
runs["no L2"] = train(model, torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM), 0.0)

model = copy.deepcopy(initial_model)
groups = param_groups(model, weight_decay=to_torch_weight_decay(ALPHA))  # 2 * ALPHA
runs["weight_decay"] = train(model, torch.optim.SGD(groups, lr=LR, momentum=MOMENTUM), 0.0)

model = copy.deepcopy(initial_model)
runs["l2_penalty"] = train(
    model, torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM), ALPHA
)
elapsed = time.perf_counter() - start

# %%
# Results
# -------
# Without L2 the training loss goes to zero while the test loss stays far
# above it, and the weights keep growing; with L2 the weights stay small and
# the gap between test and training loss shrinks.
print(
    f"digits MLP, {len(y_train)} train / {len(y_test)} test images, {EPOCHS} epochs, "
    f"alpha={ALPHA:g} (weight_decay={to_torch_weight_decay(ALPHA):g}), {elapsed:.1f} s"
)
header = ("model", "train loss", "test loss", "loss gap", "train acc", "test acc", "||W||^2")
print(" | ".join(f"{h:>12}" for h in header))
for name, model in runs.items():
    s = scores(model)
    row = (
        s["train_loss"],
        s["test_loss"],
        s["test_loss"] - s["train_loss"],
        s["train_acc"],
        s["test_acc"],
        penalized_sq_norm(model),
    )
    print(" | ".join([f"{name:>12}", *(f"{v:12.4f}" for v in row)]))

# The two L2 runs are the same optimization: SGD adds weight_decay * theta to
# the gradient, which is the gradient of alpha * ||theta||^2.  Only the order
# of floating-point additions differs, so they agree to rounding level.
max_diff = max(
    float((a - b).detach().abs().max())
    for a, b in zip(runs["weight_decay"].parameters(), runs["l2_penalty"].parameters(), strict=True)
)
print(f"max |theta(weight_decay) - theta(l2_penalty)| = {max_diff:.2e}")

# %%
# Optional plot (only if matplotlib is installed)
# -----------------------------------------------
try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    plt = None

if plt is not None:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    names = list(runs)
    table = [scores(runs[n]) for n in names]
    ax.bar(names, [t["train_loss"] for t in table], label="train loss")
    ax.bar(
        names,
        [t["test_loss"] - t["train_loss"] for t in table],
        bottom=[t["train_loss"] for t in table],
        label="test - train (gap)",
    )
    ax.set_ylabel("cross-entropy")
    ax.legend()
    fig.tight_layout()
    fig.savefig("torch_weight_decay.png", dpi=100)
