"""Tests of kzprobe/probes/: measuring against loopback servers."""
