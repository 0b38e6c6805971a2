"""Planner benchmarks: instance formats, best-known gaps, the other solvers side by side."""
