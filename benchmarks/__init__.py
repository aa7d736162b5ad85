"""Benchmarks of l2reg against its competitors and the physical limit, as in-process ratios.

Run one with ``python -m benchmarks NAME`` (``python -m benchmarks --list``).
Each benchmark module defines ``main(argv)``; shared helpers are in
:mod:`benchmarks._common`.  Benchmark helpers never feed the test suite.
"""
