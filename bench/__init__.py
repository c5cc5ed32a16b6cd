"""Benchmarks: each prints its figures; see the README."""
