"""Tests of kzprobe/targets/: target files and the bundled lists."""
