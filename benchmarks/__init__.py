"""The extrapolation benchmark: `python -m benchmarks.run` fits every curve, scores it and writes
benchmarks/results/*.json and BENCHMARKS.md. See benchmarks/run.py for the options."""
