"""Benchmarks: not timed tests; each prints its figures with its setup. Run with `make bench`."""
