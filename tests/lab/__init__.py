"""Tests of kzprobe/lab/: the catalogue, the topology, and every scenario end to end."""
