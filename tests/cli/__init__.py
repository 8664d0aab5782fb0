"""Tests of the kzprobe command end to end: exit codes, errors, output."""
