"""Commands registered on the kzprobe app (placeholder until implemented)."""
