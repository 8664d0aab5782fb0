"""Tests of kzprobe/vantage/: lock, latest.json, retention, cron, geo."""
