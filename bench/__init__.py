"""Benchmarks run by `make bench`: each measures a figure and its reference in the same run."""
