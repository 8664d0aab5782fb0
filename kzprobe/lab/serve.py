"""Run every server of one lab namespace: `python -m kzprobe.lab.serve CONFIG.json`.

Started inside the namespace by the lab (lab.py). Prints "ready" on stdout once every socket is
bound, so the lab knows when to scan; runs until SIGTERM or SIGINT. The configuration is what
plan.py writes for the namespace: {"role", "certs_dir", "log_file", "resolvers", "web"} and, behind
a captive portal, "portal".
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import signal
import sys
import time
from pathlib import Path

from kzprobe.lab.servers.dns import LabResolver
from kzprobe.lab.servers.portal import PortalServer
from kzprobe.lab.servers.web import WebServer


class _LogFormatter(logging.Formatter):
    """The standard "%(asctime)s" text, with the date and time formatted once per second.

    The log has a line per DNS query, TLS connection and HTTP request (thousands per scan), and
    the server shares the cores with the probe it serves."""

    def __init__(self, fmt: str) -> None:
        super().__init__(fmt)
        self._second: int | None = None
        self._stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        second = int(record.created)
        if second != self._second:
            self._second, self._stamp = second, time.strftime(self.default_time_format, self.converter(second))
        return (self.default_msec_format or "%s,%03d") % (self._stamp, record.msecs)


def configure_logging(log_file: str | None, role: str) -> None:
    """One line per event into `log_file` (stderr without one), written at once so that a lab
    user can follow it (`kzprobe lab shell` prints where it is)."""
    # The lines never show the caller, thread or process: skip looking them up per record
    # (the logging documentation's "Optimization" advice).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    setattr(logging, "logAsyncioTasks", False)  # noqa: B010  # an attribute of Python 3.12+; harmless before
    handler = logging.FileHandler(log_file, encoding="utf-8") if log_file else logging.StreamHandler()
    handler.setFormatter(_LogFormatter(f"%(asctime)s {role} %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])


def _raise_file_limit() -> None:
    # Two listening sockets per address, plus connections: a thousand sites need more than
    # the usual soft limit of 1024 descriptors.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def serve(config: dict) -> None:
    resolvers = [LabResolver(r["address"], r["records"], r["label"], r.get("default")) for r in config["resolvers"]]
    web = WebServer(config["web"], Path(config["certs_dir"]))
    portal = PortalServer(config["portal"], Path(config["certs_dir"])) if config.get("portal") else None
    for resolver in resolvers:
        await resolver.start()
    await web.start()
    if portal is not None:
        await portal.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    await stop.wait()
    for resolver in resolvers:
        resolver.close()
    if portal is not None:
        portal.close()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m kzprobe.lab.serve CONFIG.json", file=sys.stderr)
        return 2
    config = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    configure_logging(config.get("log_file"), config.get("role", "?"))
    _raise_file_limit()
    asyncio.run(serve(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
