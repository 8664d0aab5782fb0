"""Probes: measure and record. None of them decides what an observation means."""
