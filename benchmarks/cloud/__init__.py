"""Parts of ``benchmarks/cloud_throughput.py`` (the one-machine cloud)."""
