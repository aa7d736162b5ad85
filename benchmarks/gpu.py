"""Ridge on a GPU (array API) against the device's own ``X.T @ X``, and its accuracy.

``python -m benchmarks gpu [--cpu] [--n N] [--p P] [--repeat K] [--backend NAME]``

With ``sklearn.set_config(array_api_dispatch=True)``, ``l2reg.Ridge`` fits
PyTorch (CUDA) or CuPy arrays on their device (:mod:`l2reg.solvers.array_api`).
This script times, round-robin on the device, with a synchronization after
each call:

* ``X.T @ X`` of the float32 X (the device's matrix-product rate: the
  physical limit of a tall ridge fit);
* ``Ridge`` on the float32 X (goal: within 1.5x of that product);
* ``Ridge(precision="mixed")`` on the float64 X: float32 Gram blocks and
  float64 refinement passes (goal: within 2x of the float32 product, with
  float64 accuracy);
* for information, ``Ridge`` on the float64 X and the float64 ``X.T @ X``.

Accuracy is checked against l2reg's float64 NumPy fit of the same data on
the host: the relative difference of the coefficients (float32 fit: about
1e-4 or better; mixed: at most 1e-10) and each fit's certificate.

The default problem is the issue's: n = 2,000,000 x p = 1,000 (a 16 GB
float64 X and its 8 GB float32 copy on the device, 16 GB on the host for the
reference).  Without a GPU the script says so and exits cleanly (status 0);
``--cpu`` runs a small smoke check on PyTorch's CPU backend instead
(default 20,000 x 200), which exercises the same code but measures nothing
about GPUs.
"""

from __future__ import annotations

import argparse
import gc
import time

import numpy as np

ALPHA = 1e-3
SEED = 0
GOALS = {"float32 fit": 1.5, "mixed fit": 2.0}


def find_backend(requested: str, cpu: bool):
    """``(name, module, device)`` of the array library to use, or None without a GPU."""
    if cpu:
        import torch

        return "torch", torch, "cpu"
    if requested in ("auto", "torch"):
        try:
            import torch

            if torch.cuda.is_available():
                return "torch", torch, "cuda"
        except ImportError:
            pass
    if requested in ("auto", "cupy"):
        try:
            import cupy

            if cupy.cuda.runtime.getDeviceCount() > 0:
                return "cupy", cupy, None
        except Exception:  # not installed, or no driver: no GPU here
            pass
    return None


def synchronizer(name, module, device):
    if name == "torch" and device == "cuda":
        return module.cuda.synchronize
    if name == "cupy":
        return module.cuda.Device().synchronize
    return lambda: None


def make_data(name, module, device, n, p):
    """Correlated columns with offsets (the CPU benchmark's ``tall`` design), on the device."""
    if name == "torch":
        generator = module.Generator(device=device).manual_seed(SEED)
        X = module.randn((n, p), dtype=module.float64, device=device, generator=generator)
        common = module.randn((n, 1), dtype=module.float64, device=device, generator=generator)
        offsets = module.rand(p, dtype=module.float64, device=device, generator=generator)
        coef = module.randn(p, dtype=module.float64, device=device, generator=generator)
        noise = module.randn(n, dtype=module.float64, device=device, generator=generator)
    else:
        random = module.random.default_rng(SEED)
        X = random.standard_normal((n, p))
        common = random.standard_normal((n, 1))
        offsets = random.random(p)
        coef = random.standard_normal(p)
        noise = random.standard_normal(n)
    X *= 0.5**0.5
    X += (0.5**0.5) * common
    X += 4 * offsets - 2
    y = X @ coef + noise
    return X, y


def to_host(name, array):
    if name == "torch":
        return array.detach().cpu().numpy()
    return array.get()


def best_times(functions, repeat, synchronize):
    """Best wall time of each function, round-robin, synchronized before and after."""
    best = dict.fromkeys(functions, np.inf)
    for _ in range(repeat):
        for label, function in functions.items():
            gc.collect()
            synchronize()
            start = time.perf_counter()
            function()
            synchronize()
            best[label] = min(best[label], time.perf_counter() - start)
    return best


def main(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks gpu", description=__doc__)
    parser.add_argument("--cpu", action="store_true", help="smoke run on PyTorch's CPU")
    parser.add_argument("--n", type=int, default=None, help="rows (default 2e6; 20,000 with --cpu)")
    parser.add_argument("--p", type=int, default=None, help="columns (default 1000; 200 --cpu)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--backend", choices=["auto", "torch", "cupy"], default="auto")
    args = parser.parse_args(argv)
    backend = find_backend(args.backend, args.cpu)
    if backend is None:
        print(
            "No GPU found (neither PyTorch CUDA nor CuPy with a device): nothing to time. "
            "Run with --cpu for a smoke check on PyTorch's CPU backend."
        )
        return 0
    import sklearn

    from l2reg import Ridge

    name, module, device = backend
    n = args.n or (20_000 if args.cpu else 2_000_000)
    p = args.p or (200 if args.cpu else 1_000)
    synchronize = synchronizer(name, module, device)
    print(f"backend: {name} on {device or 'cuda (cupy)'}; X: {n} x {p}; alpha={ALPHA}")

    X64, y64 = make_data(name, module, device, n, p)
    X32 = X64.astype("float32") if name == "cupy" else X64.float()
    y32 = y64.astype("float32") if name == "cupy" else y64.float()
    fits = {}

    def fit(label, X, y, **options):
        def run():
            with sklearn.config_context(array_api_dispatch=True):
                fits[label] = Ridge(alpha=ALPHA, **options).fit(X, y)

        return run

    candidates = {
        "X.T @ X float32": lambda: X32.T @ X32,
        "float32 fit": fit("float32 fit", X32, y32),
        "mixed fit": fit("mixed fit", X64, y64, precision="mixed"),
        "X.T @ X float64": lambda: X64.T @ X64,
        "float64 fit": fit("float64 fit", X64, y64),
    }
    times = best_times(candidates, args.repeat, synchronize)

    # The reference: l2reg's float64 NumPy fit of the same data on the host.
    X_host, y_host = to_host(name, X64), to_host(name, y64)
    reference = Ridge(alpha=ALPHA).fit(X_host, y_host)
    del X_host
    scale = np.abs(reference.coef_).max()

    limit = times["X.T @ X float32"]
    print(f"\nbest of {args.repeat}, round-robin; limit = X.T @ X float32 = {limit:.4g} s")
    header = ("candidate", "seconds", "/ limit", "goal", "solver_", "rel. grad", "coef diff")
    print("  ".join(f"{h:>28}" if i == 0 else f"{h:>12}" for i, h in enumerate(header)))
    ok = True
    for label, seconds in times.items():
        model = fits.get(label)
        goal = GOALS.get(label)
        row = [label, f"{seconds:.4g}", f"{seconds / limit:.3g}", f"<= {goal}" if goal else ""]
        if model is not None:
            difference = np.abs(to_host(name, model.coef_) - reference.coef_).max() / scale
            row += [
                model.solver_[:12],
                f"{model.certificate_.relative_gradient_norm:.1e}",
                f"{difference:.1e}",
            ]
            if label == "mixed fit" and not difference <= 1e-10:
                ok = False
        if goal is not None and seconds / limit > goal:
            ok = False
        print("  ".join(f"{c:>28}" if i == 0 else f"{c:>12}" for i, c in enumerate(row)))
    verdict = "all goals met" if ok else "some goals NOT met"
    print(f"\n{verdict}" + (" (CPU smoke run: the GPU goals do not apply)" if args.cpu else ""))
    return 0
