"""Service targets (messengers): one verdict from many endpoints, part by part.

A messenger works here when the endpoints its app needs work: Telegram's data centres,
WhatsApp's chat and registration servers, Signal's service hosts (behind Signal's own CA).
Each endpoint record (probes/service_endpoints.py) gets an *outcome* - "ok", or the first step that
failed as a code such as "tcp.timeout" - and then a *judgement*:

- blocked: the control scan reached the endpoint while it fails here; or, without a control,
  a signature no outage produces - a bogon or blockpage DNS answer, a name that the control
  resolver (or, for NXDOMAIN, the same resolver for the service's other names) resolves, a
  handshake reset, closed or left unanswered right after the ClientHello while a neutral server
  name was answered at the same address and the real name failed again (the SNI split; a Tor
  OR port's failure itself), a chain that misses the pinned CA and validates for the name
  nowhere else; or mass failure - every endpoint of one part of the service failing, in a
  censor's shape, on two or more distinct servers, while the network is online.
- down: it fails from the control scan (or its name through the control resolver) too.
- unknown: it fails and nothing tells blocking from an outage; and a stale pin (tls.pin_stale:
  a chain outside the pin that validates for the name, or that the control got too) - the
  service changed its certificate authority, which is no interception.

Endpoints form parts by role (chat, registration, datacenter, …); the web front end (the
target's url, judged by the web rules) is one more member, of the "web" part. The service is
blocked when any member is blocked, and the explanation says whether it is stopped fully or
partly, and which parts still work. OONI's rules (ooni/probe-cli
internal/experiment/{telegram,whatsapp,signal,fbmessenger}) are the floor, with one documented
exception: a single failing host without a signature (OONI's Signal and
Facebook rules) asks for a control scan rather than calling it blocked - OONI's own Signal data
had such false positives (ooni/probe#2627). docs/messengers.md describes every rule.

The modules, one job each, in the order a result goes through them: records (endpoint records
read as typed facts), outcomes (one endpoint's outcome), members (Member and the judgements),
judgement (an endpoint against the control or a signature; the web front end), parts (parts by
role, their status, the mass-failure floor), service_verdict (the verdict), phrasing (the
explanation's clauses), analyse (the entry point, analyse_service). Everything other code uses
is imported from here, kzprobe.analysis.services.
"""

from __future__ import annotations

from kzprobe.analysis.services.analyse import analyse_service

__all__ = ["analyse_service"]
