"""
The seed's example: y = theta0 + theta1 x1 + theta2 x2, every parameter penalized
=================================================================================

The document l2reg grew from regularizes all three parameters, the intercept
included:

    L = (1/m) sum_i (y_i - (theta0 + theta1 x_i1 + theta2 x_i2))^2
        + lambda (theta0^2 + theta1^2 + theta2^2)

``Ridge(alpha=lambda, penalize_intercept=True)`` minimizes exactly this.  We
check it against the closed form ``(A^T A / m + lambda I)^{-1} A^T y / m``
with ``A = [1, x1, x2]`` and compare with the usual unpenalized intercept.
"""

# %%
import numpy as np

from l2reg import Ridge

rng = np.random.default_rng(1)
m = 30
x1, x2 = rng.uniform(0, 10, m), rng.uniform(0, 5, m)
y = 4.0 + 1.5 * x1 - 2.0 * x2 + rng.standard_normal(m)
X = np.column_stack([x1, x2])
lam = 0.5

seed_model = Ridge(alpha=lam, penalize_intercept=True).fit(X, y)
A = np.column_stack([np.ones(m), x1, x2])
closed_form = np.linalg.solve(A.T @ A / m + lam * np.eye(3), A.T @ y / m)
theta = np.r_[seed_model.intercept_, seed_model.coef_]
print("theta (l2reg)      :", np.round(theta, 6))
print("theta (closed form):", np.round(closed_form, 6))
assert np.allclose(theta, closed_form, rtol=1e-10)

usual = Ridge(alpha=lam).fit(X, y)
print("theta, intercept not penalized:", np.round(np.r_[usual.intercept_, usual.coef_], 6))
print(f"seed loss at its minimizer: {seed_model.objective(X, y):.6f}")
print("penalizing the intercept pulls theta0 toward 0, so the slopes compensate;")
print("center y (or leave the intercept unpenalized, l2reg's default) to avoid that.")
