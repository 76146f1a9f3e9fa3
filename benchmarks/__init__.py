"""``make bench``: throughput, memory and quality measurements, each against a baseline in the same run."""
