"""`kzprobe scan` and `kzprobe analyse`: parse, call the library, render."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from kzprobe.cli import app
from kzprobe.errors import BadInputError, ExitCode
from kzprobe.probes.dns import DEFAULT_CONTROL_RESOLVER
from kzprobe.report import vocabulary as v
from kzprobe.report.read import read_report
from kzprobe.report.write import write_json_atomically
from kzprobe.scan import limits
from kzprobe.scan.control_source import ControlError, load_control_alone
from kzprobe.scan.job import plan_scan, run_scan_job
from kzprobe.scan.settings import ConfigError, find_config_file, resolve_settings
from kzprobe.targets.selection import TargetSelection
from kzprobe.text import clean_text
from kzprobe.vantage.alerts import AlertOutcome
from kzprobe.vantage.durations import DurationError, parse_duration

err = Console(stderr=True, highlight=False, soft_wrap=True)


@app.command()
def scan(
    targets: list[str] = typer.Option([], "--targets", "-t",
                                      help="Target list: a YAML or Citizen Lab CSV file, or an https:// URL of one; "
                                           "repeatable. Default: the bundled lists."),
    urls: list[str] = typer.Option([], "--url", "-u",
                                   help="Scan this URL (repeatable), no file needed; the bundled baselines are "
                                        "measured beside it."),
    target_ids: list[str] = typer.Option([], "--target",
                                         help="Only this target id from the lists; shell patterns like '*telegram*' "
                                              "work (repeatable)."),
    categories: list[str] = typer.Option([], "--category", "-c",
                                         help="Only targets of this category, e.g. NEWS (repeatable)."),
    dry_run: bool = typer.Option(False, "--dry-run",
                                 help="List what would be scanned, touch no network, write nothing."),
    output: Path | None = typer.Option(None, "--output", "-o",
                                       help="Report file. Default: <output dir>/<vantage>-<UTC time>.json"),
    output_dir: Path | None = typer.Option(None, "--output-dir",
                                           help="Directory for reports, journals and latest.json (default: results)."),
    config: Path | None = typer.Option(None, "--config",
                                       help="Configuration file (default: ./kzprobe.yaml, else "
                                            "~/.config/kzprobe/config.yaml)."),
    resolver: str | None = typer.Option(None, "--resolver",
                                        help="Resolver IP[:PORT] to measure (default: the system's configuration)."),
    control_resolver: str | None = typer.Option(None, "--control-resolver",
                                                help="Uncensored resolver: https DoH URL, IP[:PORT], or none "
                                                     f"(default {DEFAULT_CONTROL_RESOLVER})."),
    control: str | None = typer.Option(None, "--control",
                                       help="Report of a scan from an uncensored vantage (file or URL)."),
    ca_file: Path | None = typer.Option(None, "--ca-file", help="Extra trusted CA certificates (PEM)."),
    timeout: float | None = typer.Option(None, "--timeout",
                                         help=f"Seconds per network operation (default {limits.DEFAULT_TIMEOUT_S:g})."),
    concurrency: int | None = typer.Option(None, "--concurrency",
                                           help="Targets measured actively at once (default "
                                                f"{limits.DEFAULT_CONCURRENCY})."),
    processes: int | None = typer.Option(None, "--processes",
                                         help="Measuring processes; 0: one per core for lists of 2,000 targets or "
                                              "more (default 0)."),
    vantage: str | None = typer.Option(None, "--vantage",
                                       help="A name for this vantage point, no personal data (default: local)."),
    keep: str | None = typer.Option(None, "--keep", help="Retention: keep N complete scans, or Nd days, or all."),
    geo: bool | None = typer.Option(None, "--geo/--no-geo",
                                    help="Look up this network's ASN and country (never its address). Default: on."),
    notify: list[str] = typer.Option([], "--notify",
                                     help="Where change records go after a complete scan: feed, an https webhook URL, "
                                          "or none; repeatable. Default: feed."),
    control_max_age: str | None = typer.Option(None, "--control-max-age",
                                               help="How old (or new) a control scan may be to say a step works now: "
                                                    "90m, 3h, 1d (default 3h)."),
    tor_bootstrap: bool | None = typer.Option(
        None, "--tor-bootstrap/--no-tor-bootstrap",
        help="Also bootstrap the real tor daemon, if installed, directly and through the obfs4 bridges: it contacts "
             "Tor relays beyond the listed endpoints. Runs beside the scan. Default: off."),
    tor_bootstrap_timeout: float | None = typer.Option(
        None, "--tor-bootstrap-timeout",
        help=f"Seconds the tor bootstrap may take (default {limits.DEFAULT_TOR_BOOTSTRAP_TIMEOUT_S:g})."),
    resume: Path | None = typer.Option(None, "--resume",
                                       help="Complete an interrupted scan: its journal or incomplete report."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON on stdout."),
) -> None:
    """Scan targets and write a report."""
    flags = {"vantage": vantage, "targets": targets or None, "output_dir": output_dir, "resolver": resolver,
             "control_resolver": control_resolver, "control": control, "ca_file": ca_file,
             "timeout": timeout, "concurrency": concurrency, "processes": processes, "keep": keep, "geo": geo,
             "notify": notify, "control_max_age": control_max_age, "tor_bootstrap": tor_bootstrap,
             "tor_bootstrap_timeout": tor_bootstrap_timeout}
    try:
        settings = resolve_settings(flags, find_config_file(config))
    except ConfigError as exc:
        raise BadInputError(f"{len(exc.problems)} problem(s) in the settings; nothing was scanned",
                            details=exc.details) from exc
    selection = TargetSelection(tuple(target_ids), tuple(categories))
    if dry_run:
        _print_plan(settings, selection, urls, as_json)
        return
    interactive = sys.stderr.isatty() and not as_json
    with _progress(interactive) as (on_result, total_known):
        outcome = run_scan_job(settings, output=output, resume=resume, on_result=on_result,
                               total_known=total_known, selection=selection, urls=urls)
    for warning in outcome.warnings:
        err.print(f"kzprobe: warning: {warning}", markup=False)
    _finish_output(outcome.report, outcome.output, as_json, interactive, _changes_note(outcome.alerts))
    if not outcome.complete:
        raise typer.Exit(ExitCode.INTERRUPTED)


def _print_plan(settings, selection: TargetSelection, urls: list[str], as_json: bool) -> None:
    """`--dry-run`: the targets a scan would measure, one per line (id, category, URL), no network
    but the fetch of a list given by URL."""
    plan = plan_scan(settings, selection, urls)
    if as_json:
        rows = [{"id": t.id, "category": t.category, "url": t.url, "baseline": t.baseline,
                 **({"keyword": t.keyword} if t.keyword is not None else {})} for t in plan.targets]
        sys.stdout.write(json.dumps({"lists": plan.lists, "targets": rows}, ensure_ascii=False, indent=1) + "\n")
        return
    width = max((len(t.id) for t in plan.targets), default=0)
    for t in plan.targets:
        note = f"  (baseline, {t.baseline})" if t.baseline else ""
        category, what = clean_text(t.category or "-"), clean_text(t.url or t.label)
        sys.stdout.write(f"{clean_text(t.id):<{width}}  {category:<5}  {what}{note}\n")
    sources = plan.lists + (["--url"] if urls else [])
    bootstrap = (f", and the tor daemon bootstrapped (up to {settings.tor_bootstrap_timeout:g} s)"
                 if settings.tor_bootstrap else "")
    err.print(f"kzprobe: {len(plan.targets)} targets would be scanned from {', '.join(sources)}{bootstrap}"
              " (dry run: nothing measured)", markup=False)


@contextmanager
def _progress(interactive: bool):
    """A progress bar on a terminal; nothing otherwise (cron logs get only the summary line)."""
    if not interactive:
        yield None, None
        return
    with Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("left"), TimeRemainingColumn(), TextColumn("{task.fields[failing]}"),
                  console=err, transient=True) as progress:
        task = progress.add_task("scan", total=None, failing="")
        failing = 0

        def advance(result: dict) -> None:
            nonlocal failing
            failing += did_not_load(result)
            note = f"{failing} did not load (verdicts at the end)" if failing else ""
            progress.update(task, advance=1, failing=note)

        yield advance, (lambda total: progress.update(task, total=total))


def did_not_load(result: dict) -> bool:
    """Whether a measured result's page did not load (no HTTP response at the end of its chain),
    or a service endpoint failed: a hint while the scan runs, not a verdict (verdicts need the
    baselines and the control, known only at the end)."""
    observations = result.get("observations")
    if not isinstance(observations, dict):
        return False
    bootstrap = observations.get("tor_bootstrap")
    if isinstance(bootstrap, dict):
        attempts = bootstrap.get("attempts")
        return not any(isinstance(a, dict) and a.get("progress") == 100 for a in attempts or [])
    endpoints = observations.get("endpoints")
    if isinstance(endpoints, list) and endpoints:
        return any(isinstance(step, dict) and step.get("failure")
                   for endpoint in endpoints if isinstance(endpoint, dict)
                   for key in ("dns", "tcp", "tls") for step in _steps(endpoint.get(key)))
    hops = observations.get("http")
    last = hops[-1] if isinstance(hops, list) and hops and isinstance(hops[-1], dict) else None
    return last is None or last.get("failure") is not None or last.get("status") is None


def _steps(value: object) -> list:
    return value if isinstance(value, list) else [value]


# Blocked targets named in the closing line; more are counted.
NAMED_BLOCKED = 10


# What a volunteer behind a captive portal (analysis/captive.py) must do: nothing was measured.
CAPTIVE_PORTAL_ADVICE = ("this network is behind a captive portal (a login page answers for every site): "
                         "log in to the network - open any http:// page in a browser and accept its terms - "
                         "then scan again; no verdict of this scan says anything about blocking")


def local_inspection_advice(report: dict) -> str | None:
    """What a volunteer whose HTTPS is inspected on their own machine or network must do
    (analysis/inspection.py: an antivirus or a proxy re-signed nearly every site); None when the
    report records no such inspection."""
    baselines = report.get("baselines")
    record = baselines.get("local_inspection") if isinstance(baselines, dict) else None
    if not isinstance(record, dict):
        return None
    root = clean_text(str(record.get("root") or "an unknown root"), 120)
    return (f"HTTPS from this machine is inspected: \"{root}\" signed the certificates of {record.get('targets')} of "
            f"{record.get('https_targets')} HTTPS targets, the baselines included - an antivirus's HTTPS scanning "
            "(such as Kaspersky's encrypted connections scan or ESET's SSL/TLS filtering) or a corporate proxy, not "
            "a censor; those targets are inconclusive (tls.local_inspection). Turn the HTTPS scanning off for kzprobe, "
            "or scan from a machine or network without it, and scan again")


def _advice(report: dict) -> None:
    """The scan-wide advice a report calls for, after its summary."""
    if report.get("connectivity") == v.CAPTIVE_PORTAL:
        err.print(f"kzprobe: {CAPTIVE_PORTAL_ADVICE}", markup=False)
    inspection = local_inspection_advice(report)
    if inspection:
        err.print(f"kzprobe: {inspection}", markup=False)


def _summary_line(report: dict, output: Path, changes: str = "") -> str:
    counts = ", ".join(f"{n} {verdict}" for verdict, n in report["summary"].items() if n)
    state = "complete" if report["complete"] else "INCOMPLETE (interrupted)"
    blocked = [str(r.get("target", {}).get("id")) for r in report["results"] if r.get("verdict") == "blocked"]
    named = ""
    if blocked:
        more = f" and {len(blocked) - NAMED_BLOCKED} more" if len(blocked) > NAMED_BLOCKED else ""
        named = f"; blocked: {', '.join(blocked[:NAMED_BLOCKED])}{more}"
    return clean_text(f"kzprobe: {len(report['results'])} targets, {counts or 'none'}{named}; connectivity "
                 f"{report['connectivity']}; scan {state}; report {output}{changes}")


def _changes_note(alerts: AlertOutcome | None) -> str:
    """'; 2 changes since the previous scan: …' for the summary line (empty when nothing to say)."""
    if alerts is None:
        return ""
    if alerts.baseline:
        return "; first scan of this vantage here: changes are reported from the next one"
    if alerts.record is None:
        return ""
    count = len(alerts.record["changes"]) + alerts.record["omitted"] + (1 if alerts.record["connectivity"] else 0)
    delivered = f" ({alerts.delivered} delivered to webhooks)" if alerts.delivered else ""
    return f"; {count} change(s) since the previous scan{delivered}: {alerts.record['title']}"


def _finish_output(report: dict, output: Path, as_json: bool, interactive: bool, changes: str = "") -> None:
    if as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False, indent=1) + "\n")
    elif interactive:
        from kzprobe.analyst.render import render_report

        render_report(report, Console(highlight=False))
    err.print(_summary_line(report, output, changes), markup=False)
    _advice(report)


@app.command()
def analyse(
    report_file: Path = typer.Argument(..., metavar="REPORT", help="A saved report (or journal)."),
    control: str | None = typer.Option(None, "--control",
                                       help="Control report from an uncensored vantage (file or URL)."),
    control_max_age: str | None = typer.Option(None, "--control-max-age",
                                               help="How old (or new) the control may be to say a step works now: "
                                                    "90m, 3h, 1d (default: the scan's own, else 3h)."),
    output: Path | None = typer.Option(None, "--output", "-o",
                                       help="Write the re-analysed report here (default: print a summary only)."),
    as_json: bool = typer.Option(False, "--json", help="Print the re-analysed report as JSON."),
    resolver: str | None = typer.Option(None, "--resolver",
                                        help="Resolver IP[:PORT] for fetching a --control URL "
                                             "(default: the system's)."),
    ca_file: Path | None = typer.Option(None, "--ca-file",
                                        help="Extra trusted CA certificates (PEM) for a --control URL."),
) -> None:
    """Re-analyse a saved report offline (new fingerprints or control).

    An imported OONI report is judged against OONI's test helper, kept in each of its results,
    unless --control names another control (docs/ooni.md)."""
    try:
        max_age = parse_duration(control_max_age) if control_max_age is not None else None
    except DurationError as exc:
        raise BadInputError(f"--control-max-age: {exc}") from exc
    report = read_report(report_file)
    try:
        control_report = load_control_alone(control, resolver=resolver, ca_file=str(ca_file) if ca_file else None) \
            if control else None
    except ControlError as exc:
        raise BadInputError(f"--control: {exc}") from exc
    if control_report is None:
        from kzprobe.ooni.reports import stored_control  # an imported OONI report: its test helper's view

        control_report = stored_control(report)
    from kzprobe.analysis import analyse_report  # not at start-up: `scan` needs it only at its end

    updated = analyse_report(report, control_report, control_max_age_s=max_age)
    if output:
        write_json_atomically(output, updated)
    if as_json:
        sys.stdout.write(json.dumps(updated, ensure_ascii=False, indent=1) + "\n")
    else:
        from kzprobe.analyst.render import render_report

        render_report(updated, Console(highlight=False))
    _advice(updated)
