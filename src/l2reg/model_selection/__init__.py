"""Choosing alpha: exact leave-one-out, GCV, k-fold, evidence, paths."""

__all__: list[str] = []
