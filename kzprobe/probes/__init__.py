"""Probes: measure and record. None of them decides what an observation means.

Each network operation of a target becomes an observation (typed in report/observations.py)
with its timings and, when it failed, a failure string: web.py measures one web target (DNS,
then TCP and TLS to each chosen address, the HTTP redirect chain, the download), and
service_endpoints.py a messenger's endpoints. Underneath: dns.py and dns_wire.py (the measured
resolver), doh.py (the control resolver over HTTPS), connection.py (TCP connect and TLS
handshake to one address), certs.py (the peer chain), session.py (the target's connections,
which httpx goes through so that every request uses an address kzprobe resolved), http.py and
body.py (requests and bodies within caps), download.py (bytes over time), turns.py (how the
targets of one process share its CPU), failures.py (exceptions to failure strings, the only
place that knows the libraries' exception types) and limits.py (every bound, with its reason).

Probes never import analysis/: the report's observations are the only thing between them.
"""
