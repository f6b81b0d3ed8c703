"""Performance harnesses (run as ``python -m benchmarks.<name>``); results in RESULTS.md."""
