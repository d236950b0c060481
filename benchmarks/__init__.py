"""The benchmark harness: ``python -m benchmarks.run --scale S --repeat N --out BENCHMARKS.md``."""
