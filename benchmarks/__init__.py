"""sparkkit benchmarks: run by `make bench`, results in benchmarks/results/*.json."""
