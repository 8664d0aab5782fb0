"""The lab's messengers that break for their own reasons, beside those a censor breaks (issue 22).

A stale pin: a service pinned to its own CA moves one host to a public CA (Signal did in 2022, and
OONI's signal test reported false blocking until its pin was updated:
https://github.com/ooni/probe/issues/2344), so every vantage sees a chain outside the pin that
validates for the name - no interception, unlike a root the user was made to install. The SNI split
for service endpoints: a chat host reset by its server name (a neutral name passes at the same
address) is SNI filtering; a chat host whose every ClientHello is reset, whatever it names, is the
server's or its address' doing, for the control to tell. Each scenario says what kzprobe must
conclude with the outside vantage's control scan and without one.
"""

from __future__ import annotations

from kzprobe.lab import site_spec as m
from kzprobe.lab.site_spec import Conditions, EndpointBehaviour, Expectation, Scenario, Site
from kzprobe.report import vocabulary as v


def service_trap_scenarios(domain: str) -> tuple[Scenario, ...]:
    """The scenarios, with their sites and endpoints under `domain`."""

    def scenario(name: str, summary: str, endpoints: tuple[EndpointBehaviour, ...], expect: Expectation,
                 without_control: Expectation) -> Scenario:
        return Scenario(name, summary, Site(host=f"{name}.{domain}"), m.HONEST, expect,
                        endpoints=endpoints, expect_without_control=without_control)

    def chat(name: str, *, inside: Conditions = m.HONEST, outside: Conditions = m.HONEST,
             pin: str | None = None) -> EndpointBehaviour:
        return EndpointBehaviour(f"chat.{name}.{domain}", 443, tls=True, inside=inside, outside=outside, role="chat",
                                 pin=pin)

    def other(name: str, role: str, pin: str | None = None) -> EndpointBehaviour:
        return EndpointBehaviour(f"{role}.{name}.{domain}", 443, tls=True, role=role, pin=pin)

    stale = Expectation(v.INCONCLUSIVE, None, ("tls.pin_stale",))
    intercepted = Expectation(v.BLOCKED, "tls", ("tls.mitm",))
    sni = Expectation(v.BLOCKED, "tls", ("tls.reset", "tls.sni_filter"))
    unclear = Expectation(v.INCONCLUSIVE, None, ("tls.reset", "control.missing"))
    every_name = Conditions(tls_any_name=m.TLS_RESET)
    return (
        scenario("service-pin-stale", "messenger pinned to its own CA whose storage host moved to a CA the scan "
                 "trusts, for everyone (a stale pin, as Signal's in 2022)",
                 (chat("service-pin-stale", pin=m.PIN_HELD), other("service-pin-stale", "storage", m.PIN_STALE)),
                 stale, stale),
        scenario("service-pin-intercepted", "messenger pinned to its own CA, its chat host intercepted with a root "
                 "the user was made to install (it validates here, not publicly)",
                 (chat("service-pin-intercepted", inside=Conditions(tls=m.TLS_MITM_INSTALLED), pin=m.PIN_HELD),
                  other("service-pin-intercepted", "storage", m.PIN_HELD)),
                 intercepted, intercepted),
        scenario("service-sni-reset", "messenger whose chat host is reset by its server name; a neutral name "
                 "passes at the same address",
                 (chat("service-sni-reset", inside=Conditions(tls=m.TLS_RESET)),
                  other("service-sni-reset", "registration")),
                 sni, sni),
        scenario("service-tls-refused", "messenger whose chat server resets every ClientHello, whatever the name, "
                 "for everyone (its own TLS broken)",
                 (chat("service-tls-refused", inside=every_name, outside=every_name),
                  other("service-tls-refused", "registration")),
                 Expectation(v.DOWN, None, ("tls.reset",)), unclear),
        scenario("service-tls-address-cut", "messenger whose chat server's every ClientHello is reset here, "
                 "whatever the name (its address cut after the TCP handshake)",
                 (chat("service-tls-address-cut", inside=every_name), other("service-tls-address-cut", "registration")),
                 Expectation(v.BLOCKED, "tls", ("tls.reset",)), unclear),
    )
