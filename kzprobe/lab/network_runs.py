"""The lab's whole-network runs: conditions of the vantage's own network, each scanned again
from a rebuilt inside namespace (site_spec.NetworkRun; plan.py builds the namespace).

Two are what happened to Kazakhstan's networks in January 2022 (the international link cut, then
everything); three are what a volunteer's own network may do that is no censor's: a captive
portal that answers every name, one that leaves DNS alone and answers every plain-HTTP request
with its login page, and an antivirus on the volunteer's machine that re-signs every HTTPS site.
"""

from __future__ import annotations

from typing import Final

from kzprobe.lab.plan import CUT_EVERYTHING, CUT_INSPECTION, CUT_INTERNATIONAL, CUT_PORTAL, CUT_PORTAL_PAGE
from kzprobe.lab.site_spec import Expectation, NetworkRun
from kzprobe.report import vocabulary as v

_REACHABLE: Final = Expectation(v.REACHABLE)
_BY_THE_CUT: Final = Expectation(v.BLOCKED, "network", ("connectivity.international_cut",))
_BEHIND_PORTAL: Final = Expectation(v.INCONCLUSIVE, None, ("connectivity.captive_portal",))
_OFFLINE: Final = Expectation(v.INCONCLUSIVE, None, ("connectivity.offline",))
_INSPECTED: Final = Expectation(v.INCONCLUSIVE, None, ("tls.local_inspection",))


def network_runs(baselines: tuple[str, ...]) -> tuple[NetworkRun, ...]:
    """Every run, each scanning `baselines` (the catalogue's baseline ids) and a few scenarios."""
    portal = baselines + ("tls-reset", "dynamic-page", "dns-nxdomain", "service-chat-reset")
    # A portal that leaves DNS alone: three plain-HTTP sites besides the domestic baseline get its page.
    portal_page = baselines + ("tls-reset", "dynamic-page", "http-reset", "http-blockpage-unknown")
    # An antivirus re-signing every HTTPS site: healthy ones, one the ISP's resolver sends to an in-ISP
    # replica, an http:// site redirected to HTTPS, and a real SNI block, which the software cannot hide.
    inspected = baselines + ("dns-replica", "http-to-https", "tls-reset")
    inspected_expect = {**dict.fromkeys(("baseline-domestic-1", "baseline-international-1", "baseline-international-2",
                                         "dns-replica", "http-to-https"), _INSPECTED),
                        "baseline-domestic-2": _REACHABLE,  # plain HTTP, the control's page
                        "tls-reset": Expectation(v.BLOCKED, "tls", ("tls.reset",))}
    return (
        NetworkRun(
            "international-cut",
            "international link cut (January 2022): only domestic sites answer",
            CUT_INTERNATIONAL, baselines + ("dns-replica", "tls-reset", "domestic-sni", "domestic-refused"),
            v.INTERNATIONAL_CUT,
            {
                "baseline-domestic-1": _REACHABLE,
                "baseline-domestic-2": _REACHABLE,
                "baseline-international-1": _BY_THE_CUT,
                "baseline-international-2": _BY_THE_CUT,
                # The ISP's resolver sends it to a domestic replica, which survives the cut: a local
                # point of presence can answer while the link abroad is down.
                "dns-replica": _REACHABLE,
                "tls-reset": _BY_THE_CUT,
                # The cut blames only what it cuts: a domestic site's own block keeps its verdict.
                "domestic-sni": Expectation(v.BLOCKED, "tls", ("tls.reset",)),
                "domestic-refused": Expectation(v.BLOCKED, "tcp", ("tcp.refused",)),
            },
            {
                "baseline-domestic-1": _REACHABLE,
                "baseline-international-1": _BY_THE_CUT,
                "tls-reset": _BY_THE_CUT,
                "domestic-sni": Expectation(v.BLOCKED, "tls", ("tls.reset",)),
                "domestic-refused": Expectation(v.INCONCLUSIVE, None, ("control.missing", "tcp.refused")),
            },
        ),
        NetworkRun(
            "offline",
            "fully offline (5-10 January 2022): nothing answers, not even the ISP's resolver",
            CUT_EVERYTHING, baselines + ("dns-nxdomain", "tls-reset"), v.OFFLINE,
            dict.fromkeys(baselines + ("dns-nxdomain", "tls-reset"), _OFFLINE),
        ),
        NetworkRun(
            "captive-portal",
            "behind a captive portal (a hotel's Wi-Fi): every name resolves to the portal, HTTP is "
            "redirected to its login page, TLS meets its certificate",
            CUT_PORTAL, portal, v.CAPTIVE_PORTAL,
            dict.fromkeys(portal, _BEHIND_PORTAL), dict.fromkeys(portal, _BEHIND_PORTAL),
        ),
        NetworkRun(
            "captive-portal-page",
            "behind a captive portal that leaves DNS alone: every plain-HTTP request gets its login page "
            "(200, no redirect) from the site's own address, TLS meets its certificate",
            CUT_PORTAL_PAGE, portal_page, v.CAPTIVE_PORTAL,
            dict.fromkeys(portal_page, _BEHIND_PORTAL), dict.fromkeys(portal_page, _BEHIND_PORTAL),
        ),
        NetworkRun(
            "local-inspection",
            "an antivirus on this machine scans HTTPS: it re-signs every site, the baselines included, with "
            "its own root, installed in the machine's trust store",
            CUT_INSPECTION, inspected, v.ONLINE, inspected_expect,
            {**inspected_expect,
             # Without a control the plain page has only the site's HTTPS page to be checked against,
             # and that page came through the software too.
             "baseline-domestic-2": Expectation(v.INCONCLUSIVE, None, ("control.missing",)),
             "tls-reset": Expectation(v.BLOCKED, "tls", ("tls.reset", "tls.sni_filter"))},
        ),
    )
