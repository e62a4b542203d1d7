"""Checks of the benchmark itself: a bare fit script to compare with, the suite's overhead, and
pytest-benchmark micro-benchmarks."""
