"""Tests of kzprobe/report/: the format, its schema, reading reports and journals."""
