"""The lab: an emulated censored network on one machine (docs/lab.md).

Network namespaces for the censored ISP ("inside") and an uncensored vantage ("outside"),
servers that reproduce each kind of interference, and the catalogue of scenarios with the
verdict kzprobe must reach for each.
"""

from kzprobe.lab.lab import Lab, LabError
from kzprobe.lab.site_spec import Conditions, Expectation, NetworkRun, Scenario, Site
from kzprobe.lab.netns import LabUnavailable, availability
from kzprobe.lab.scenarios import NETWORK_RUNS, SCENARIOS

__all__ = [
    "Lab", "LabError", "LabUnavailable", "availability",
    "Scenario", "Site", "Conditions", "Expectation", "NetworkRun",
    "SCENARIOS", "NETWORK_RUNS",
]
