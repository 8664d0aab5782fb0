"""Loaded by every Python subprocess the tests start: installs the network guard."""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import guard  # noqa: E402

guard.install()
