"""The lab: an emulated censored network on one machine (docs/lab.md).

Network namespaces for the censored ISP ("inside") and an uncensored vantage ("outside"),
servers that reproduce each kind of interference, and the catalogue of scenarios with the
verdict kzprobe must reach for each.

site_spec.py says what a scenario is made of and scenarios.py lists them (network_runs.py the
whole-network runs: the cut, offline, captive portals, an antivirus inspecting HTTPS); plan.py turns them
into each namespace's addresses and servers (addresses.py: the address plan); netns.py makes
the namespaces, lab.py builds and tears down the whole lab, serve.py and servers/ run inside
it; certs.py and pages.py make what the servers send; runner.py is `kzprobe lab run` (scan from
outside and inside, compare with the expectations); generate.py makes sites by the thousand
for benchmarks.
"""

from kzprobe.lab.lab import Lab, LabError
from kzprobe.lab.netns import LabUnavailable, availability
from kzprobe.lab.scenarios import NETWORK_RUNS, SCENARIOS
from kzprobe.lab.site_spec import Conditions, Expectation, NetworkRun, Scenario, Site

__all__ = [
    "Lab", "LabError", "LabUnavailable", "availability",
    "Scenario", "Site", "Conditions", "Expectation", "NetworkRun",
    "SCENARIOS", "NETWORK_RUNS",
]
