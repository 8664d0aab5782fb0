"""One scan from settings to report on disk, as the CLI and a cron job run it.

Order (docs/vantage-point.md): settings -> output lock -> network metadata (ASN, country) ->
journal -> measure -> analyse -> atomic report -> latest.json -> retention -> alerts -> unlock. A resumed
scan continues the journal of an interrupted one and measures only the targets it lacks.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kzprobe.errors import BadInputError, CannotWriteError
from kzprobe.probes.dns import SYSTEM_RESOLVER, ResolverConfigError, parse_control_resolver, parse_resolver
from kzprobe.report.format import JOURNAL_SUFFIX
from kzprobe.report.observations import measured_part
from kzprobe.report.read import ReportError, read_report
from kzprobe.report.write import (
    Journal,
    ReportWriteError,
    build_report,
    journal_path_for,
    report_path_for,
    scan_header,
    write_json_atomically,
)
from kzprobe.scan.control_source import ControlError, RemoteFileError, fetch_file, load_control
from kzprobe.scan.keywords import measure_keyword_targets
from kzprobe.scan.processes import MeasuringProcessError, measure_in_processes, process_count
from kzprobe.scan.run import ScanOptions, build_probe_kit, measure_with_signals, utc_now
from kzprobe.scan.settings import EffectiveSettings
from kzprobe.scan.tor_bootstrap import TOR_BOOTSTRAP_ID, TORRC_ENV, TorBootstrapRun, scan_bridges, torrc_addition
from kzprobe.targets import (
    BASELINES_FILE,
    MAX_TARGET_FILE_BYTES,
    Target,
    TargetFileError,
    bundled_target_files,
    load_targets,
    targets_from_urls,
)
from kzprobe.targets.selection import TargetSelection, TargetSelectionError, select_targets
from kzprobe.vantage import (
    LatestError,
    RetentionError,
    acquire_output_lock,
    apply_retention,
    publish_latest,
)
from kzprobe.vantage.alerts import AlertOutcome, publish_changes
from kzprobe.vantage.geo import (
    DEFAULT_GEO_TIMEOUT_S,
    ECHO_SERVERS_ENV,
    configured_echo_servers,
    lookup_network,
    txt_lookup_via,
)
from kzprobe.vantage.report_files import report_file_name
from kzprobe.vantage.report_index import ReportIndexError, publish_index

# Durations of the previous complete scan in an output directory (hidden: not a report).
DURATIONS_NAME = ".kzprobe-durations.json"
MAX_DURATIONS_BYTES = 8 * 1024 * 1024

@dataclass
class ScanOutcome:
    report: dict
    output: Path
    complete: bool
    warnings: list[str] = field(default_factory=list)
    alerts: AlertOutcome | None = None  # what changed since the previous complete scan, and who was told


@dataclass
class _Resumed:
    path: Path  # the journal or report given
    output: Path  # the report it completes
    header: dict
    results: list[dict]


def _load_resume(path: Path) -> _Resumed:
    """An interrupted scan: its journal (preferred, it has everything) or its incomplete report."""
    if str(path).endswith(JOURNAL_SUFFIX):
        journal, output = path, report_path_for(path)
    else:
        journal, output = journal_path_for(path), path
    source = journal if journal.exists() else path
    try:
        previous = read_report(source)
    except ReportError as exc:
        raise BadInputError(f"--resume: {exc}") from exc
    if previous.get("complete") is True:
        raise BadInputError(f"--resume: {source} is a complete scan; nothing to resume")
    header = {key: previous[key] for key in ("format", "format_version", "scan_id", "started_at",
                                             "software", "vantage", "settings") if key in previous}
    results = [measured_part(r) for r in previous.get("results", [])]
    return _Resumed(path=path, output=output, header=header, results=results)


def _probe_options(settings: EffectiveSettings) -> ScanOptions:
    """The probes' options; ResolverConfigError (bad input) when a resolver cannot be used."""
    return ScanOptions(
        resolver=parse_resolver(settings.resolver) if settings.resolver else SYSTEM_RESOLVER,
        control_resolver=parse_control_resolver(settings.control_resolver),
        ca_file=str(settings.ca_file) if settings.ca_file else None,
        timeout=settings.timeout,
        concurrency=settings.concurrency,
    )


@dataclass(frozen=True)
class ScanPlan:
    """What a scan measures: its targets, and where they came from as the report names them."""

    lists: list[str]  # file names (never their directories) and URLs of lists
    targets: list[Target]
    selection: dict[str, list[str]] | None  # --target/--category/--url as given, None without


def plan_scan(settings: EffectiveSettings, selection: TargetSelection = TargetSelection(),
              urls: Sequence[str] = ()) -> ScanPlan:
    """The targets of a scan: the lists given (files or https URLs; default the bundled lists, or
    only the bundled baselines when `urls` are given), narrowed by `selection`, then the `urls`
    as quick targets. Raises BadInputError (nothing is scanned) for any problem in any of them."""
    if settings.targets:
        lists: list[Path | str] = list(settings.targets)
    else:
        bundled = bundled_target_files()
        lists = [p for p in bundled if p.name == BASELINES_FILE] if urls else list(bundled)
    fetched = _fetch_lists([s for s in lists if isinstance(s, str)], settings)
    try:
        targets = select_targets(load_targets(lists, fetched=fetched), selection)
        known = {t.id for t in targets}
        targets += [t for t in targets_from_urls(urls, source_name="--url") if t.id not in known]
    except TargetFileError as exc:
        raise BadInputError(f"{len(exc.problems)} problem(s) in the targets; nothing was scanned",
                            details=exc.details) from exc
    except TargetSelectionError as exc:
        raise BadInputError(f"{exc}; nothing was scanned") from exc
    record = {**selection.record(), "url": list(urls)} if selection.narrows or urls else None
    return ScanPlan([s if isinstance(s, str) else s.name for s in lists], targets, record)


def _fetch_lists(urls: list[str], settings: EffectiveSettings) -> dict[str, bytes]:
    """The bytes of each target list given by URL, fetched through the scan's own resolver."""
    if not urls:
        return {}
    kit = build_probe_kit(_probe_options(settings))
    fetched = {}
    for url in urls:
        try:
            fetched[url] = fetch_file(url, kit, MAX_TARGET_FILE_BYTES)
        except RemoteFileError as exc:
            raise BadInputError(f"--targets: {exc}; nothing was scanned") from exc
    return fetched


def _settings_record(settings: EffectiveSettings, kit_resolver: str, plan: ScanPlan, processes: int) -> dict:
    # File names only: absolute paths would carry the volunteer's user name into the report.
    return {
        "resolver": kit_resolver,
        "control_resolver": settings.control_resolver,
        "control": _file_name_or_url(settings.control),
        "timeout": settings.timeout,
        "concurrency": settings.concurrency,
        "processes": processes,
        "ca_file": settings.ca_file.name if settings.ca_file else None,
        "targets": plan.lists,
        **({"selection": plan.selection} if plan.selection else {}),
        "control_max_age_s": settings.control_max_age,
        **({"tor_bootstrap_timeout_s": settings.tor_bootstrap_timeout} if settings.tor_bootstrap else {}),
    }


def _file_name_or_url(control: str | None) -> str | None:
    """A control scan as the report names it: a URL as given, a file by its name only."""
    if control is None or control.startswith(("http://", "https://")):
        return control
    return Path(control).name


# Settings a resumed scan must share with the scan it completes (what is measured, through
# which resolvers, judged against what): one report, one method. A different --timeout is
# allowed (a volunteer may need to finish sooner) and said in a warning.
_RESUMED_ALIKE = ("resolver", "control_resolver", "control", "ca_file", "targets", "selection")


def _resume_differences(recorded: dict, now: dict, keys: tuple[str, ...] = _RESUMED_ALIKE) -> list[str]:
    differences = []
    for key in keys:
        before = _file_name_or_url(recorded.get(key)) if key == "control" else recorded.get(key)
        if before != now.get(key):
            differences.append(f"{key} {before!r} (now {now.get(key)!r})")
    return differences


def run_scan_job(
    settings: EffectiveSettings,
    *,
    output: Path | None = None,
    resume: Path | None = None,
    on_result: Callable[[dict], None] | None = None,
    total_known: Callable[[int], None] | None = None,
    selection: TargetSelection = TargetSelection(),
    urls: Sequence[str] = (),
) -> ScanOutcome:
    """Scan (or resume) per `settings`; a KzprobeError (its exit code says which kind) when it
    cannot run: bad input, the output directory locked by another scan or not writable, a
    measuring process failing."""
    plan = plan_scan(settings, selection, urls)
    if settings.tor_bootstrap and any(t.id == TOR_BOOTSTRAP_ID for t in plan.targets):
        raise BadInputError(f"target id {TOR_BOOTSTRAP_ID!r} is the --tor-bootstrap result's own; "
                            "rename that target or scan without --tor-bootstrap")
    options = _probe_options(settings)
    resumed = _load_resume(resume) if resume else None
    started_at = resumed.header["started_at"] if resumed else utc_now()
    if resumed:
        output = resumed.output
    output = output or settings.output_dir / report_file_name(settings.vantage, started_at)
    lock = acquire_output_lock(output.parent)  # LockedError, OutputDirError
    try:
        return _run_locked(settings, options, plan, output, started_at, resumed, on_result, total_known)
    finally:
        lock.release()


def _run_locked(settings, options, plan, output, started_at, resumed, on_result, total_known) -> ScanOutcome:
    network = None
    if settings.geo:
        try:
            echo_servers = configured_echo_servers(os.environ)
        except ValueError as exc:
            raise BadInputError(f"{ECHO_SERVERS_ENV}: {exc}") from exc
        network = asyncio.run(lookup_network(txt_lookup_via(options.resolver, DEFAULT_GEO_TIMEOUT_S),
                                             echo_servers=echo_servers))
        options.own_addresses |= network.public_addresses
    try:
        kit = build_probe_kit(options)
    except ResolverConfigError:
        raise
    except (OSError, ValueError) as exc:  # a --ca-file that is not PEM certificates
        raise BadInputError(str(exc)) from exc
    control_report = None
    if settings.control:
        try:
            control_report = load_control(settings.control, kit)
        except ControlError as exc:  # its text may quote what a server sent
            raise BadInputError(f"--control: {kit.scrub(str(exc))}") from exc

    # Scrubbed again: an interrupted scan's journal may be older than an address learned now.
    measured = [kit.scrub.result(r) for r in resumed.results] if resumed else []
    resume_notes: list[str] = []
    done = {r["target"]["id"] for r in measured}
    bootstrap = _tor_bootstrap(settings, plan, kit.scrub.result, done)  # before the journal: may refuse
    to_measure = [t for t in plan.targets if t.id not in done]
    # Keyword targets are measured last, on the baselines this scan reached (scan/keywords.py).
    keywords = [t for t in to_measure if t.keyword is not None]
    to_measure = [t for t in to_measure if t.keyword is None]
    processes = process_count(settings.processes, len(to_measure))
    # The system's resolver may be this machine itself (a VPS's own resolver on its address).
    resolver = kit.scrub(kit.dns.description)
    if resumed:
        header = resumed.header
        differences = _resume_differences(header.get("settings", {}),
                                          _settings_record(settings, resolver, plan, processes))
        if differences:
            raise BadInputError("--resume: the interrupted scan was made with other settings: "
                               + "; ".join(differences) + ". Resume it with the same options or configuration file")
        resume_notes = [f"resumed with timeout {settings.timeout:g} s; the report's settings give the first "
                        f"part's {header['settings'].get('timeout')!r}"] \
            if header.get("settings", {}).get("timeout") != settings.timeout else []
    else:
        vantage = {"name": settings.vantage, **(network.fields() if network else {"asn": None, "country": None})}
        header = scan_header(uuid.uuid4().hex, started_at, vantage,
                             _settings_record(settings, resolver, plan, processes))
    journal_path = journal_path_for(output)
    append = resumed is not None and journal_path.exists()
    journal = Journal(journal_path, header, append=append)  # ReportWriteError: cannot write
    if resumed and not append:  # resumed from a report whose journal is gone: start one
        for result in measured:
            journal.add(result)
    if total_known:
        total_known(len(to_measure) + len(keywords) + (1 if bootstrap else 0))

    def record(result: dict, line: str | None = None) -> None:
        journal.add(result, line)
        measured.append(result)
        if on_result:
            on_result(result)

    plan_order = {t.id: i for i, t in enumerate(plan.targets)}
    try:
        previous_ms = read_durations(output.parent)
        if processes > 1:
            finished = measure_in_processes(options, to_measure, settings.concurrency, record, previous_ms,
                                            processes, forked=bootstrap.start if bootstrap else None)
        else:
            if bootstrap:
                bootstrap.start()
            finished = measure_with_signals(kit, to_measure, settings.concurrency, record, previous_ms)
        if finished and keywords:
            in_order = sorted(measured, key=lambda r: plan_order.get(r["target"]["id"], len(plan_order)))
            measure_keyword_targets(build_probe_kit(options), keywords, in_order, record)
        if bootstrap:
            finished = _finish_bootstrap(bootstrap, finished, record)
    except ReportWriteError:
        journal.close()
        raise
    except MeasuringProcessError as exc:  # a bug: what was measured stays in the journal
        journal.close()
        raise MeasuringProcessError(f"{exc}; the journal {journal.path} keeps the {len(measured)} "
                           f"result(s) measured; `kzprobe scan --resume {journal.path}` completes the scan") from exc
    finally:
        if bootstrap:
            bootstrap.stop()  # nothing left to stop once it was waited for; tor never outlives the scan
            bootstrap.wait()
    # Imported here, not at start-up: the measuring processes fork without it, sooner.
    from kzprobe.analysis import analyse_scan

    order = {t.id: i for i, t in enumerate(plan.targets)}
    measured.sort(key=lambda r: order.get(r["target"]["id"], len(order)))
    # The bound the analysis used is the one the report records (a resumed scan may be given another).
    header.setdefault("settings", {})["control_max_age_s"] = settings.control_max_age
    analysis = analyse_scan(measured, control_report, control_max_age_s=settings.control_max_age)
    report = build_report(header, measured, analysis, complete=finished, finished_at=utc_now())
    try:
        write_json_atomically(output, report)
    except ReportWriteError as exc:
        journal.close()
        raise CannotWriteError(f"{exc} (the journal {journal.path} keeps every result)") from exc
    outcome = ScanOutcome(report=report, output=output, complete=finished)
    outcome.warnings.extend(resume_notes)
    if network is not None and network.failure:
        outcome.warnings.append(f"network lookup (ASN, country) failed: {kit.scrub(network.failure)}")
    if not finished:
        journal.close()
        return outcome
    journal.remove()
    try:
        publish_latest(output, output.parent)
        write_durations(output.parent, report)
        protect = {output} | ({resumed.path} if resumed else set())
        apply_retention(output.parent, settings.keep, settings.keep_days, protect=protect)
        publish_index(output.parent)  # after retention: lists what collectors can still fetch
    except (LatestError, RetentionError, ReportWriteError, ReportIndexError) as exc:
        outcome.warnings.append(str(exc))
    # Last, still under the lock: the change record, the feed and the webhooks (never fails the scan).
    outcome.alerts = publish_changes(settings.alerts(), report, output, dns=kit.dns, connector=kit.connector)
    outcome.warnings.extend(outcome.alerts.warnings)
    return outcome


def _tor_bootstrap(settings: EffectiveSettings, plan: ScanPlan, scrub: Callable[[dict], dict],
                   done: set[str]) -> TorBootstrapRun | None:
    """The Tor bootstrap to run beside this scan: None unless asked for and not measured yet (a
    resumed scan keeps the one it has). BadInputError when the test-only torrc cannot be read."""
    if not settings.tor_bootstrap or TOR_BOOTSTRAP_ID in done:
        return None
    try:
        extra = torrc_addition(os.environ)
    except ValueError as exc:
        raise BadInputError(f"{TORRC_ENV}: {exc}") from exc
    return TorBootstrapRun(settings.tor_bootstrap_timeout, scan_bridges(plan.targets), scrub, extra)


def _finish_bootstrap(bootstrap: TorBootstrapRun, finished: bool, record: Callable[[dict], None]) -> bool:
    """Record the bootstrap's result once it ends; a stopped scan stops it unrecorded (a resume
    runs it again). False when the scan was stopped, before or while waiting for it."""
    if not finished:
        bootstrap.stop()
        bootstrap.wait()
        return False
    result = bootstrap.wait()
    if result is None:
        return False
    record(result)
    return True


def read_durations(directory: Path) -> dict[str, float]:
    """Each target's duration in this directory's previous complete scan ({} when unknown):
    the slow ones start first next time, so their timeouts overlap the rest of the scan."""
    path = directory / DURATIONS_NAME
    try:
        if path.stat().st_size > MAX_DURATIONS_BYTES:
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: float(v) for k, v in data.items()
            if isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0}


def write_durations(directory: Path, report: dict) -> None:
    # A target's own time: without what it queued behind the rest of the scan (probes/turns.py).
    durations = {r["target"]["id"]: round(r["duration_ms"] - r.get("queued_ms", 0.0), 1) for r in report["results"]}
    write_json_atomically(directory / DURATIONS_NAME, durations)
