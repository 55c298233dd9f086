"""Building blocks shared by the Placement and end-to-end benchmarks."""
