"""Tests of kzprobe/ooni/: OONI measurements read and judged by kzprobe's rules."""
