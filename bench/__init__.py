"""defi-sql benchmarks: `make bench` (see bench/README.md)."""
