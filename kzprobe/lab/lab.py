"""Build the lab, run things inside it, and always take it down again.

    with Lab(SCENARIOS, cuts=["international"]) as lab:
        lab.run("inside", ["curl", "--cacert", str(lab.ca_file), "https://tls-reset.kzlab.test/"])

A Lab creates one namespace per network (the outside vantage, the censored ISP, and the ISP
with each requested cut), gives each its addresses and drop link, starts one server process per
namespace, and writes the lab CA and a kzprobe targets file. Tear-down runs on leaving the
`with` block, at interpreter exit, and on SIGTERM/SIGHUP; processes die with their parent even
on SIGKILL, and `kzprobe lab clean` removes what a killed root lab left behind.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Final

from kzprobe.errors import KzprobeError
from kzprobe.lab import addresses as a
from kzprobe.lab import netns
from kzprobe.lab import site_spec as m
from kzprobe.lab.certs import INSTALLED_ROOTS, INTERMEDIATE_FILE, PINS_DIR, CertificateFactory
from kzprobe.lab.plan import (
    BLOCKPAGE_HOST,
    CUT_INSPECTION,
    CUT_PORTAL,
    CUT_PORTAL_PAGE,
    INSIDE,
    OUTSIDE,
    PKI_HOST,
    PORTAL_HOST,
    NamespacePlan,
    allocate,
    endpoint_certificate_name,
    plan_namespace,
)
from kzprobe.lab.site_spec import Scenario
from kzprobe.lab.targets_file import targets_yaml
from kzprobe.targets.bundled import EXTRA_CA_DIR_VARIABLE

# How long a namespace's servers may take to bind everything (a thousand sites take ~2 s).
SERVER_READY_S: Final = 60.0
_STOP_WAIT_S: Final = 5.0
# The interceptors whose forged chains lab/certs.py makes by kind (the Qaznet one has its own).
_INTERCEPTORS: Final = ((m.TLS_MITM_INSTALLED, "installed"), (m.TLS_MITM_ISCA, "isca"),
                        (m.TLS_MITM_UNKNOWN, "unknown"))
_counter = itertools.count(1)
_live: set[Lab] = set()
_live_lock = threading.Lock()


class LabError(KzprobeError):
    """The lab could not be built (the message says which step failed and why)."""


class Lab:
    """The emulated censored network. Use as a context manager."""

    def __init__(self, scenarios: Sequence[Scenario], *, cuts: Iterable[str] = (),
                 backend: str | None = None, with_outside: bool = True,
                 env: Mapping[str, str] | None = None) -> None:
        self.scenarios = tuple(scenarios)
        self.cuts = tuple(dict.fromkeys(cuts))
        self.backend = netns.backend_name(backend)
        self.with_outside = with_outside
        self.extra_env = dict(env or {})
        self.workdir: Path | None = None
        self.namespaces: dict[str, netns.Namespace] = {}
        self.plans: dict[str, NamespacePlan] = {}  # by role: what each namespace was given
        self.servers: dict[str, subprocess.Popen] = {}
        self.allocation = allocate(self.scenarios)
        self.addresses = self.allocation.sites  # site host -> its addresses
        self._closed = False

    # -- what users of the lab need

    @property
    def ca_file(self) -> Path:
        return self._dir / "certs" / "ca.pem"

    @property
    def installed_roots_file(self) -> Path:
        """Roots a user was made to install on the censored ISP's machines (lab/certs.py)."""
        return self._dir / "certs" / INSTALLED_ROOTS

    def role_env(self, role: str) -> dict[str, str]:
        """What a program run as a user of `role`'s network gets: inside the censored ISP, a
        system trust store with the interceptors' installed roots (SSL_CERT_FILE, which OpenSSL
        reads in place of the system's bundle; its hashed directory still holds the rest)."""
        return {"SSL_CERT_FILE": str(self.installed_roots_file)} if role.startswith(INSIDE) else {}

    @property
    def targets_file(self) -> Path:
        return self._dir / "targets.yaml"

    @property
    def roles(self) -> list[str]:
        return list(self.namespaces)

    @property
    def _dir(self) -> Path:
        if self.workdir is None:
            raise LabError("the lab is not built")
        return self.workdir

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment for processes in the lab: the test guard is told the lab's addresses.

        Then the `env` given to the Lab, then `extra`."""
        env = dict(os.environ)
        allow = [c for c in env.get("KZPROBE_GUARD_ALLOW", "").split(",") if c.strip()]
        env["KZPROBE_GUARD_ALLOW"] = ",".join(dict.fromkeys(allow + a.guard_allow()))
        if self.workdir is not None:  # the lab's services' own CAs, pinned by its targets file (`ca:`)
            env[EXTRA_CA_DIR_VARIABLE] = str(self.workdir / "certs" / PINS_DIR)
        env.update(self.extra_env)
        env.update(extra or {})
        return env

    def command(self, role: str, argv: Sequence[str]) -> list[str]:
        """`argv` as a command line that runs inside the namespace of `role`."""
        if role not in self.namespaces:
            raise LabError(f"no namespace {role!r} in this lab (have: {', '.join(self.namespaces)})")
        return self.namespaces[role].command(argv)

    def run(self, role: str, argv: Sequence[str], **kwargs) -> subprocess.CompletedProcess:
        """subprocess.run inside the namespace of `role`, with the lab's environment."""
        kwargs.setdefault("env", self.env())
        return subprocess.run(self.command(role, argv), preexec_fn=netns.die_with_parent, **kwargs)

    def popen(self, role: str, argv: Sequence[str], **kwargs) -> subprocess.Popen:
        kwargs.setdefault("env", self.env())
        return subprocess.Popen(self.command(role, argv), preexec_fn=netns.die_with_parent, **kwargs)

    def endpoint_address(self, scenario_id: str, endpoint: m.EndpointBehaviour) -> str:
        """The address the lab gave a service endpoint's host."""
        return self.allocation.endpoints[(scenario_id, endpoint.host)]

    # -- building

    def __enter__(self) -> Lab:
        try:
            self.build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def build(self) -> None:
        netns.clean()  # leftovers of labs whose process was killed
        _register(self)
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{netns.PREFIX}-{os.getpid()}-"))
        self._write_certificates()
        self._write_targets()
        plans = []
        if self.with_outside:
            plans.append(plan_namespace(OUTSIDE, self.scenarios, self.allocation))
        for cut in (None, *self.cuts):
            plans.append(plan_namespace(INSIDE, self.scenarios, self.allocation, cut))
        serial = next(_counter)
        for plan in plans:
            self._create_namespace(plan, f"{netns.PREFIX}-{os.getpid()}-{serial}-{plan.role}")
        for plan in plans:
            self._start_server(plan)
        for plan in plans:
            self._wait_ready(plan.role)

    def _write_certificates(self) -> None:
        factory = CertificateFactory(self._dir / "certs")
        factory.leaf(BLOCKPAGE_HOST)
        factory.installed_roots()
        for host in ([PORTAL_HOST] if {CUT_PORTAL, CUT_PORTAL_PAGE} & set(self.cuts) else []):
            factory.leaf(host)
        for scenario in self.scenarios:
            site = scenario.site
            aia = f"http://{PKI_HOST}/{INTERMEDIATE_FILE}" \
                if site.chain in (m.CHAIN_NO_INTERMEDIATE_AIA, m.CHAIN_SECOND_INTERMEDIATE_AIA) else None
            factory.leaf(site.host, site.chain, aia)
            for alias in site.aliases:  # other names it serves (a national domain, a portal)
                factory.leaf(alias)
        for scenario in self.scenarios:
            actions = (scenario.inside.tls, scenario.outside.tls)
            if m.TLS_MITM in actions:
                factory.forged(scenario.site.host)
            for action, kind in _INTERCEPTORS:
                if action in actions:
                    factory.forged_installed(scenario.site.host, kind)
            if CUT_INSPECTION in self.cuts:  # the antivirus re-signs every site and every name it serves
                for host in (scenario.site.host, *scenario.site.aliases):
                    factory.forged_installed(host, "antivirus")
            for endpoint in scenario.endpoints:
                if endpoint.tls:
                    name = endpoint_certificate_name(endpoint, self.endpoint_address(scenario.id, endpoint))
                    factory.leaf(name)
                    if endpoint.pin == m.PIN_HELD:
                        factory.pinned_leaf(name, m.LAB_SERVICE_CA)
                    actions = (endpoint.inside.tls, endpoint.outside.tls)
                    if m.TLS_MITM in actions:
                        factory.forged(name)
                    for action, kind in _INTERCEPTORS:
                        if action in actions:
                            factory.forged_installed(name, kind)

    def _write_targets(self) -> None:
        self.targets_file.write_text(targets_yaml(self.scenarios, self.allocation), encoding="utf-8")

    def _create_namespace(self, plan: NamespacePlan, name: str) -> None:
        try:
            namespace = netns.create(name, f"nameserver {plan.resolver}\n", self.backend)
        except (netns.LabUnavailable, OSError) as exc:
            raise LabError(f"namespace {plan.role}: {exc}") from exc
        self.namespaces[plan.role] = namespace
        self.plans[plan.role] = plan
        result = subprocess.run(namespace.command(["ip", "-batch", "-"]), input=plan.ip_batch(),
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise LabError(f"namespace {plan.role}: ip -batch failed: {result.stderr.strip()}")

    def _start_server(self, plan: NamespacePlan) -> None:
        config = dict(plan.config, certs_dir=str(self._dir / "certs"), log_file=str(self._dir / f"{plan.role}.log"))
        config_file = self._dir / f"{plan.role}.json"
        config_file.write_text(json.dumps(config, indent=1), encoding="utf-8")
        stderr = open(self._dir / f"{plan.role}.stderr", "wb")
        try:
            self.servers[plan.role] = subprocess.Popen(
                self.command(plan.role, [sys.executable, "-m", "kzprobe.lab.serve", str(config_file)]),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr, env=self.env(),
                # A session of its own: Ctrl-C at the terminal (in `kzprobe lab shell`) is not for it.
                preexec_fn=netns.die_with_parent, start_new_session=True,
            )
        finally:
            stderr.close()

    def _wait_ready(self, role: str) -> None:
        server = self.servers[role]
        assert server.stdout is not None
        deadline = time.monotonic() + SERVER_READY_S
        ready, _, _ = select.select([server.stdout], [], [], max(0.0, deadline - time.monotonic()))
        line = server.stdout.readline() if ready else b""
        if line.strip() != b"ready":
            server.kill()
            server.wait()
            error = (self._dir / f"{role}.stderr").read_text(errors="replace").strip()
            raise LabError(f"the {role} servers did not start: {error[-2000:] or 'no output'}")

    # -- tear-down

    def close(self) -> None:
        """Stop the servers, delete the namespaces and the work directory. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for server in self.servers.values():
            if server.poll() is None:
                server.terminate()
        deadline = time.monotonic() + _STOP_WAIT_S  # one grace for all of them, not one each
        for server in self.servers.values():
            try:
                server.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            if server.stdout:
                server.stdout.close()
        for namespace in self.namespaces.values():
            namespace.destroy()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        _unregister(self)


def _register(lab: Lab) -> None:
    with _live_lock:
        if not _live:
            atexit.register(_close_all)
            _exit_on_signals()
        _live.add(lab)


def _unregister(lab: Lab) -> None:
    with _live_lock:
        _live.discard(lab)


def _close_all() -> None:
    for lab in list(_live):
        lab.close()


def _exit_on_signals() -> None:
    """Turn SIGTERM and SIGHUP into SystemExit, so `with Lab()` and atexit clean up.

    Only where nobody else handles them, and only from the main thread (Python's rule)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) in (signal.SIG_DFL, None):
            signal.signal(sig, _raise_exit)


def _raise_exit(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)
