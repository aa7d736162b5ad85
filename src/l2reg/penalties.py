"""Generalized L2 penalties: helpers for ``penalty_matrix`` and the penalty description.

Every L2 estimator takes ``standardize``, ``penalty_factor``,
``penalty_matrix`` and ``prior_mean`` (see ``docs/penalties.md``); this module
holds what builds them.
"""

from l2reg.objective.penalties import GeneralizedL2, difference_matrix

__all__ = ["GeneralizedL2", "difference_matrix"]
