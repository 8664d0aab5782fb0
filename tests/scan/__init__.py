"""Tests of kzprobe/scan/: settings, scheduling, measuring processes, speed guards."""
