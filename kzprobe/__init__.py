"""kzprobe: measure blocking, throttling and shutdowns from the network it runs on."""

__version__ = "0.1.0"
