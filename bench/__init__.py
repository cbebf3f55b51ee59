"""Benchmarks: `python -m bench.run` from the repository root (or `make bench`).

Every figure is a ratio against a baseline measured in the same run; see `bench/run.py`.
"""
