"""Performance benchmarks: the plain-Mesa reference model and the benchmark runner."""
