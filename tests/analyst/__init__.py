"""Tests of kzprobe/analyst/: reading many reports, and what the analyst commands print."""
