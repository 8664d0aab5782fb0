"""Vantage configuration: where the file is found, defaults < file < command line with each
value's source, and every bad key or value reported at once with its file and key."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kzprobe.cli import (
    app,
    commands_vantage,  # noqa: F401  (registers `config show` and `cron`)
)
from kzprobe.errors import ExitCode
from kzprobe.probes.dns import DEFAULT_CONTROL_RESOLVER
from kzprobe.scan import limits
from kzprobe.scan.settings import (
    FROM_COMMAND_LINE,
    FROM_DEFAULT,
    MAX_CONFIG_BYTES,
    SETTINGS,
    ConfigError,
    EffectiveSettings,
    find_config_file,
    load_config,
    parse_keep_flag,
    resolve_settings,
)
from support.work import count_work


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- finding the file ---------------------------------------------------------------------


def test_explicit_file_wins_even_when_missing(tmp_path):
    write(tmp_path / "kzprobe.yaml", "vantage: here\n")
    assert find_config_file(Path("other.yaml"), cwd=tmp_path, environ={}) == tmp_path / "other.yaml"


def test_local_file_before_user_file(tmp_path):
    write(tmp_path / "work" / "kzprobe.yaml", "")
    write(tmp_path / "xdg" / "kzprobe" / "config.yaml", "")
    found = find_config_file(cwd=tmp_path / "work", environ={"XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert found == tmp_path / "work" / "kzprobe.yaml"


@pytest.mark.parametrize("environ, expected", [
    ({"XDG_CONFIG_HOME": "{tmp}/xdg", "HOME": "{tmp}/home"}, "xdg/kzprobe/config.yaml"),
    ({"HOME": "{tmp}/home"}, "home/.config/kzprobe/config.yaml"),
    # The XDG spec: a relative XDG_CONFIG_HOME is invalid and ignored.
    ({"XDG_CONFIG_HOME": "relative/xdg", "HOME": "{tmp}/home"}, "home/.config/kzprobe/config.yaml"),
])
def test_user_config_directory(tmp_path, environ, expected):
    write(tmp_path / "xdg" / "kzprobe" / "config.yaml", "")
    write(tmp_path / "home" / ".config" / "kzprobe" / "config.yaml", "")
    env = {key: value.replace("{tmp}", str(tmp_path)) for key, value in environ.items()}
    (tmp_path / "empty").mkdir()
    assert find_config_file(cwd=tmp_path / "empty", environ=env) == tmp_path / expected


def test_no_file_anywhere(tmp_path):
    assert find_config_file(cwd=tmp_path, environ={"HOME": str(tmp_path)}) is None


# --- precedence and provenance ------------------------------------------------------------


def test_defaults_alone(tmp_path):
    settings = resolve_settings({}, None, cwd=tmp_path)
    assert settings.vantage == "local"
    assert settings.targets is None
    assert settings.output_dir == tmp_path / "results"
    assert settings.control_resolver == DEFAULT_CONTROL_RESOLVER
    assert settings.timeout == limits.DEFAULT_TIMEOUT_S
    assert settings.concurrency == limits.DEFAULT_CONCURRENCY
    assert (settings.keep, settings.keep_days, settings.geo) == (None, None, True)
    assert set(settings.sources.values()) == {FROM_DEFAULT}


def test_file_overrides_defaults_and_flags_override_the_file(tmp_path):
    config = write(tmp_path / "etc" / "kzprobe.yaml", "vantage: vps-fra\ntimeout: 7\nconcurrency: 32\ngeo: false\n")
    settings = resolve_settings({"timeout": 3.0, "vantage": None}, config, cwd=tmp_path)
    assert (settings.vantage, settings.source("vantage")) == ("vps-fra", f"config {config}")
    assert (settings.timeout, settings.source("timeout")) == (3.0, FROM_COMMAND_LINE)
    assert (settings.concurrency, settings.source("concurrency")) == (32, f"config {config}")
    assert (settings.geo, settings.source("geo")) == (False, f"config {config}")
    assert settings.source("resolver") == FROM_DEFAULT
    assert settings.config_file == config


def test_paths_in_the_file_are_relative_to_the_file(tmp_path):
    etc = tmp_path / "etc"
    write(etc / "lists" / "mine.yaml", "targets: []\n")
    write(etc / "ca.pem", "x")
    config = write(etc / "kzprobe.yaml",
                   "targets: [lists/mine.yaml]\noutput_dir: out\nca_file: ca.pem\ncontrol: ../outside/latest.json\n")
    settings = resolve_settings({}, config, cwd=tmp_path / "elsewhere")
    assert settings.targets == (etc / "lists" / "mine.yaml",)
    assert settings.output_dir == etc / "out"
    assert settings.ca_file == etc / "ca.pem"
    assert settings.control == str(etc / "../outside/latest.json")


def test_paths_on_the_command_line_are_relative_to_the_working_directory(tmp_path):
    write(tmp_path / "mine.yaml", "targets: []\n")
    settings = resolve_settings({"targets": [Path("mine.yaml")], "output_dir": Path("out")}, None, cwd=tmp_path)
    assert settings.targets == (tmp_path / "mine.yaml",)
    assert settings.output_dir == tmp_path / "out"


def test_an_unused_repeatable_flag_is_not_given(tmp_path):
    write(tmp_path / "mine.yaml", "")
    config = write(tmp_path / "kzprobe.yaml", "targets: mine.yaml\n")
    settings = resolve_settings({"targets": []}, config, cwd=tmp_path)
    assert settings.targets == (tmp_path / "mine.yaml",)
    assert settings.source("targets") == f"config {config}"


def test_urls_stay_urls(tmp_path):
    config = write(tmp_path / "kzprobe.yaml", "control: https://vantage.example/latest.json\n")
    assert resolve_settings({}, config).control == "https://vantage.example/latest.json"


@pytest.mark.parametrize("text, expected", [
    ("resolver: 192.0.2.53:5353\n", ("resolver", "192.0.2.53:5353")),
    ("resolver: system\n", ("resolver", None)),
    ("resolver: null\n", ("resolver", None)),
    ("control_resolver: none\n", ("control_resolver", "none")),
    ("control_resolver: https://dns.example/dns-query\n", ("control_resolver", "https://dns.example/dns-query")),
    ("timeout: 2.5\n", ("timeout", 2.5)),
    ("timeout: 300\n", ("timeout", 300.0)),
    ("keep: 48\nkeep_days: 30\n", ("keep", 48)),
    ("keep_days: 30\n", ("keep_days", 30)),
    ("control_max_age: 6h\n", ("control_max_age", 6 * 3600.0)),
    ("control_max_age: 90m\n", ("control_max_age", 5400.0)),
    ("control_max_age: 1d\n", ("control_max_age", 86400.0)),
    ("control_max_age: 2\n", ("control_max_age", 7200.0)),  # a bare number is hours
    ("control_max_age: 1.5h\n", ("control_max_age", 5400.0)),
    ("", ("control_max_age", 3 * 3600.0)),  # the default: a few hours
    ("", ("tor_bootstrap", False)),  # opt-in: it reaches relays beyond the listed endpoints
    ("tor_bootstrap: true\n", ("tor_bootstrap", True)),
    ("", ("tor_bootstrap_timeout", 90.0)),
    ("tor_bootstrap_timeout: 30\n", ("tor_bootstrap_timeout", 30.0)),
    ("", ("vantage", "local")),  # an empty file means every default
])
def test_good_values(tmp_path, text, expected):
    config = write(tmp_path / "kzprobe.yaml", text)
    name, value = expected
    assert getattr(resolve_settings({}, config), name) == value


# --- retention flags ----------------------------------------------------------------------


@pytest.mark.parametrize("flag, expected", [
    ("48", (48, None)),
    ("30d", (None, 30)),
    ("30D", (None, 30)),
    ("all", (None, None)),
    (12, (12, None)),
])
def test_keep_flag(flag, expected):
    assert parse_keep_flag(flag) == expected


@pytest.mark.parametrize("flag", ["0", "0d", "-3", "3w", "", "lots", "1000001", "36501d", True])
def test_bad_keep_flag(tmp_path, flag):
    with pytest.raises(ConfigError, match="--keep"):
        resolve_settings({"keep": flag}, None, cwd=tmp_path)


def test_retention_on_the_command_line_replaces_the_whole_policy_of_the_file(tmp_path):
    config = write(tmp_path / "kzprobe.yaml", "keep: 48\nkeep_days: 90\n")
    settings = resolve_settings({"keep": "7d"}, config)
    assert (settings.keep, settings.keep_days) == (None, 7)
    assert settings.source("keep") == settings.source("keep_days") == FROM_COMMAND_LINE
    everything = resolve_settings({"keep": "all"}, config)
    assert (everything.keep, everything.keep_days) == (None, None)


def test_days_given_twice_on_the_command_line(tmp_path):
    with pytest.raises(ConfigError, match="give the days once"):
        resolve_settings({"keep": "7d", "keep_days": 3}, None, cwd=tmp_path)


# --- bad keys and values ------------------------------------------------------------------


@pytest.mark.parametrize("text, key, message", [
    ("timout: 5\n", "timout", "unknown key (did you mean 'timeout'?)"),
    ("output-dir: x\n", "output-dir", "did you mean 'output_dir'?"),
    ("colour: blue\n", "colour", "known keys: vantage, targets"),
    ("vantage: 'my home, Almaty'\n", "vantage", "letters, digits"),
    ("vantage: -x\n", "vantage", "starting with a letter or digit"),
    ("vantage: 12\n", "vantage", "not 12"),
    ("vantage:\n", "vantage", "needs a value"),
    ("targets: []\n", "targets", "lists no files"),
    ("targets: {a: 1}\n", "targets", "must be a list of target files"),
    ("targets: [missing.yaml]\n", "targets", "file 1: no such file"),
    ("targets: [.]\n", "targets", "is not a regular file"),
    ("output_dir: kzprobe.yaml\n", "output_dir", "exists and is not a directory"),
    ("output_dir: ''\n", "output_dir", "must be a file or directory path"),
    ("resolver: dns.example\n", "resolver", "must be an IP address"),
    ("resolver: 1.2.3.4:99999\n", "resolver", "bad port"),
    ("resolver: 53\n", "resolver", "not 53"),
    ("control_resolver: maybe\n", "control_resolver", "must be an IP address"),
    ("control: ftp://example/latest.json\n", "control", "only http(s) URLs or file paths"),
    ("control: https:///latest.json\n", "control", "URL has no host"),
    ("ca_file: missing.pem\n", "ca_file", "no such file"),
    ("timeout: 0\n", "timeout", "above 0 and at most 300"),
    ("timeout: 301\n", "timeout", "at most 300"),
    ("timeout: ten\n", "timeout", "not 'ten'"),
    ("timeout: .nan\n", "timeout", "not nan"),
    ("timeout: true\n", "timeout", "not True"),
    ("concurrency: 0\n", "concurrency", "from 1 to 1024"),
    ("concurrency: 2.5\n", "concurrency", "whole number"),
    ("concurrency: 100000\n", "concurrency", "from 1 to 1024"),
    ("keep: 0\n", "keep", "from 1 to"),
    ("keep: 30d\n", "keep", "whole number of scans"),
    ("keep_days: -1\n", "keep_days", "from 1 to 36500"),
    ("geo: no\n", "geo", "true or false, not 'no'"),  # YAML 1.1's "no" is a string here
    ("geo: 1\n", "geo", "true or false"),
    ("control_max_age: 0\n", "control_max_age", "above 0 and at most 30 days"),
    ("control_max_age: 31d\n", "control_max_age", "at most 30 days"),
    ("control_max_age: 3 weeks\n", "control_max_age", "such as 90m, 3h or 1d"),
    ("control_max_age: -3h\n", "control_max_age", "such as 90m, 3h or 1d"),
    ("control_max_age: true\n", "control_max_age", "not True"),
    ("tor_bootstrap: yes\n", "tor_bootstrap", "true or false, not 'yes'"),
    ("tor_bootstrap_timeout: 0\n", "tor_bootstrap_timeout", "above 0 and at most 600"),
    ("tor_bootstrap_timeout: 601\n", "tor_bootstrap_timeout", "at most 600"),
])
def test_bad_values_name_file_and_key(tmp_path, text, key, message):
    config = write(tmp_path / "kzprobe.yaml", text)
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    [problem] = caught.value.problems
    assert (problem.source, problem.key) == (str(config), key)
    assert message in problem.message
    assert str(problem).startswith(f"{config}: {key}: ")


def test_every_problem_is_reported_at_once(tmp_path):
    config = write(tmp_path / "kzprobe.yaml", "timout: 5\nconcurrency: 0\ngeo: maybe\nvantage: ok\n")
    with pytest.raises(ConfigError) as caught:
        resolve_settings({"timeout": -1.0}, config)
    assert [(p.source, p.key) for p in caught.value.problems] == [
        (str(config), "timout"), (str(config), "concurrency"), (str(config), "geo"),
        (FROM_COMMAND_LINE, "--timeout"),
    ]


@pytest.mark.parametrize("text, message", [
    # "Billion laughs": aliases expand a few hundred bytes into gigabytes.
    ('a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n'
     'c: [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n', "aliases"),
    ("vantage: !!python/object:os.system x\n", "tag"),
    ("- vantage: x\n", "must be a mapping of settings"),
    ("just text\n", "must be a mapping of settings"),
    ("vantage: a\nvantage: b\n", "duplicate key"),
    ("vantage: [unclosed\n", "line"),
    ("<<: {timeout: 5}\n", "merge keys"),
])
def test_hostile_or_broken_yaml_is_refused(tmp_path, text, message):
    config = write(tmp_path / "kzprobe.yaml", text)
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert message in str(caught.value)
    assert str(caught.value).startswith(str(config))


def test_a_huge_file_is_refused_unread(tmp_path):
    config = tmp_path / "kzprobe.yaml"
    with config.open("w") as handle:
        handle.write("vantage: x\n# " + "x" * (6 * 1024 * 1024) + "\n")
    with pytest.raises(ConfigError, match="larger than"):
        load_config(config)


def test_a_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        resolve_settings({}, tmp_path / "nope.yaml")


def test_only_known_settings_come_from_the_command_line():
    with pytest.raises(TypeError, match="colour"):
        resolve_settings({"colour": "blue"}, None)


def test_settings_table_and_result_agree():
    names = [f.name for f in dataclasses.fields(EffectiveSettings)]
    assert names[: len(SETTINGS)] == list(SETTINGS)


# --- `kzprobe config show` ----------------------------------------------------------------


def test_config_show_prints_values_and_sources(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    write(tmp_path / "kzprobe.yaml", "vantage: vps-fra\nkeep: 48\n")
    result = CliRunner().invoke(app, ["config", "show", "--timeout", "5", "--no-geo"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert lines["configuration"] == f"configuration file: {tmp_path / 'kzprobe.yaml'}"
    assert lines["vantage"].split()[1:] == ["vps-fra", "config", str(tmp_path / "kzprobe.yaml")]
    assert lines["timeout"].split()[1:] == ["5.0", "command", "line"]
    assert lines["geo"].split()[1:] == ["false", "command", "line"]
    assert lines["targets"].endswith("default")
    assert "(the bundled lists)" in lines["targets"]


def test_config_show_json(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = write(tmp_path / "conf" / "vantage.yaml", "vantage: vps-fra\n")
    result = CliRunner().invoke(app, ["config", "show", "--config", str(config), "--json", "--keep", "30d"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["config_file"] == str(config)
    assert shown["settings"]["vantage"] == {"value": "vps-fra", "source": f"config {config}"}
    assert shown["settings"]["keep_days"] == {"value": 30, "source": "command line"}
    assert shown["settings"]["targets"] == {"value": None, "source": "default"}


def test_config_show_without_any_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    result = CliRunner().invoke(app, ["config", "show"])
    assert result.exit_code == 0
    assert "configuration file: none found (looked for ./kzprobe.yaml and " in result.stdout


def test_config_show_with_a_bad_file_exits_bad_input(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = write(tmp_path / "kzprobe.yaml", "timout: 5\ngeo: maybe\n")
    result = CliRunner().invoke(app, ["config", "show"])
    assert result.exit_code == ExitCode.BAD_INPUT
    assert f"{config}: timout: unknown key" in result.stderr
    assert f"{config}: geo: must be true or false" in result.stderr
    assert "2 problem(s) in the configuration" in result.stderr
    assert result.stdout == ""


def test_the_documented_examples_are_valid_configurations(tmp_path):
    """Every ```yaml block of docs/vantage-point.md loads cleanly: the guide cannot rot."""
    guide = (Path(__file__).resolve().parents[2] / "docs" / "vantage-point.md").read_text(encoding="utf-8")
    blocks = [block.split("```", 1)[0] for block in guide.split("```yaml\n")[1:]]
    assert len(blocks) >= 2
    for number, block in enumerate(blocks):
        settings = resolve_settings({}, write(tmp_path / f"example{number}.yaml", block))
        assert settings.source("vantage").startswith("config ")
        assert settings.source("output_dir").startswith("config ")


def test_control_max_age_flag_overrides_the_file_and_shows_as_a_duration(tmp_path, monkeypatch):
    config = write(tmp_path / "kzprobe.yaml", "control_max_age: 6h\n")
    settings = resolve_settings({"control_max_age": "45m"}, config)
    assert settings.control_max_age == 2700.0 and settings.source("control_max_age") == FROM_COMMAND_LINE
    from kzprobe.cli.commands_vantage import render_settings

    line = next(row for row in render_settings(settings).splitlines() if row.startswith("control_max_age"))
    assert line.split()[1:3] == ["45m", "command"]


def test_a_bloated_configuration_file_is_refused_unread(tmp_path, monkeypatch):
    # A configuration holds a dozen settings; a 4 MB one (here a flow list of 2 million values)
    # once cost ~6.5 s and ~220 MB before being refused, on every cron run.
    path = tmp_path / "kzprobe.yaml"
    path.write_text("targets: [" + ",".join(["a"] * 2_000_000) + "]\n")
    work = count_work(monkeypatch)
    with pytest.raises(ConfigError, match="larger than"):
        load_config(path)
    assert (work.bytes_read, work.yaml_values) == (MAX_CONFIG_BYTES + 1, 0)
