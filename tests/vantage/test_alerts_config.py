"""The alert settings: `notify`, the secret file and the webhook's bounds in kzprobe.yaml and on
the command line; `config show` and `kzprobe cron` saying them without a webhook's token or the
secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kzprobe.cli import app
from kzprobe.scan.settings import ConfigError, load_config, resolve_settings

TOKEN = "T0KEN-4d1f9"
HOOK = f"https://hooks.example.org/services/{TOKEN}"
SECRET = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def secret_file(directory: Path, text: str = SECRET, mode: int = 0o600) -> Path:
    path = write(directory / "webhook.secret", text + "\n")
    path.chmod(mode)
    return path


@pytest.mark.parametrize("text, notify", [
    ("", ("feed",)),  # the feed is on by default: it costs two files, and `kzprobe changes` reads it
    ("notify: none\n", ()),
    ("notify: []\n", ()),
    ("notify: feed\n", ("feed",)),
    (f"notify: [feed, {HOOK}, {HOOK}]\n", ("feed", HOOK)),
    ("notify: [http://127.0.0.1:9000/hook]\n", ("http://127.0.0.1:9000/hook",)),
])
def test_notify_destinations(tmp_path, text, notify):
    settings = resolve_settings({}, write(tmp_path / "kzprobe.yaml", "vantage: v\n" + text))
    assert settings.notify == notify
    assert settings.alerts().feed == ("feed" in notify)


@pytest.mark.parametrize("text, message", [
    ("notify: [http://hooks.example.org/x]\n", "plain http is refused for http://hooks.example.org/…"),
    ("notify: [feed, none]\n", "'none' cannot be combined"),
    ("notify: {feed: true}\n", "must be a list of destinations"),
    ("notify: [" + ", ".join(f"https://h{i}.example/" for i in range(6)) + "]\n", "at most 5 webhooks"),
    ("webhook_timeout: 0\n", "above 0 and at most 60"),
    ("webhook_retries: 6\n", "from 0 to 5"),
    ("flap_scans: 3\n", "from 4 to 168"),
    ("webhook_secret_file: nowhere.secret\n", "cannot read"),
])
def test_bad_alert_settings_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path / "kzprobe.yaml", text))
    [problem] = caught.value.problems
    assert problem.key == text.split(":")[0] and message in problem.message


@pytest.mark.parametrize("content, mode, message", [
    (SECRET, 0o644, "may be read by other users (mode 0644): run chmod 600"),
    ("x7Qz-tiny", 0o600, "shorter than 16 characters (make one with: openssl rand -hex 32)"),
    (SECRET, 0o600, None),
])
def test_the_secret_file_is_checked_and_never_shown(tmp_path, content, mode, message):
    secret = secret_file(tmp_path, content, mode)
    config = write(tmp_path / "kzprobe.yaml", f"webhook_secret_file: {secret.name}\n")
    if message is None:
        assert load_config(config)["webhook_secret_file"] == secret
        return
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert message in str(caught.value) and content not in str(caught.value)


def test_notify_on_the_command_line_replaces_the_file(tmp_path):
    config = write(tmp_path / "kzprobe.yaml", f"notify: [feed, {HOOK}]\n")
    assert resolve_settings({"notify": ["none"]}, config).notify == ()
    assert resolve_settings({"notify": []}, config).notify == ("feed", HOOK)  # the flag not given


def test_config_show_and_cron_say_the_alerts_without_token_or_secret(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    secret = secret_file(tmp_path)
    write(tmp_path / "kzprobe.yaml", f"vantage: vps-fra\noutput_dir: results\nnotify: [feed, {HOOK}]\n"
                                     f"webhook_secret_file: {secret.name}\nflap_scans: 12\n")
    shown = CliRunner().invoke(app, ["config", "show"])
    assert shown.exit_code == 0, shown.output
    lines = {line.split()[0]: line for line in shown.stdout.splitlines() if line.strip()}
    assert lines["notify"].split()[1:3] == ["feed,", "https://hooks.example.org/…"]
    assert lines["webhook_secret_file"].split()[1] == str(secret)
    assert lines["flap_scans"].split()[1] == "12"
    as_json = json.loads(CliRunner().invoke(app, ["config", "show", "--json"]).stdout)
    assert as_json["settings"]["notify"]["value"] == ["feed", "https://hooks.example.org/…"]
    none = CliRunner().invoke(app, ["config", "show", "--notify", "none"]).stdout
    assert "none (no change records)" in none

    cron = CliRunner().invoke(app, ["cron"]).stdout
    assert "# After each complete scan: feed: changes.xml (Atom) and changes.jsonl in the output directory." in cron
    assert (f"# After each complete scan: webhook https://hooks.example.org/…: signed with the secret in {secret}; "
            "10 s, 2 retries; undelivered records wait in .kzprobe-outbox/.") in cron
    assert "3 times in 12 scans is reported once as unstable" in cron
    for output in (shown.stdout, json.dumps(as_json), cron):
        assert TOKEN not in output and SECRET not in output
