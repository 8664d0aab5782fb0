"""Tests of kzprobe/analysis/: the rules, on observations built by support.observations."""
