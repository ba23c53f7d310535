"""Benchmark harness, installed as `melanoma.benchmarks`: runs every artifact in its own runtime."""
