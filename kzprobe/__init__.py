"""kzprobe: measure blocking, throttling and shutdowns from the network it runs on.

The packages and the layers they form: docs/architecture.md.
"""

__version__ = "0.1.0"
