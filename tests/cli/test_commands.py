"""kzprobe.cli.COMMAND_MODULES: `kzprobe X` imports only the module that adds X, so the table
must name every command, and each under the module that really adds it."""

from __future__ import annotations

import subprocess
import sys

from kzprobe import cli


def command_names(app) -> set[str]:
    names = {command.name or command.callback.__name__ for command in app.registered_commands}
    return names | {group.name for group in app.registered_groups}


def test_the_table_names_every_command_and_nothing_else():
    assert set(cli.COMMAND_MODULES) == command_names(cli.app)


def test_each_command_is_added_by_the_module_the_table_names():
    script = (
        "import sys; command = sys.argv[1]; sys.argv = ['kzprobe', command]\n"
        "from kzprobe import cli\n"
        "names = {c.name or c.callback.__name__ for c in cli.app.registered_commands}\n"
        "names |= {g.name for g in cli.app.registered_groups}\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('kzprobe.cli.commands_'))\n"
        "print(command in names, ' '.join(loaded))\n"
    )
    for command, module in cli.COMMAND_MODULES.items():
        out = subprocess.run([sys.executable, "-c", script, command], capture_output=True, text=True, check=True)
        found, loaded = out.stdout.split(" ", 1)
        assert found == "True", command
        assert loaded.split() == [f"kzprobe.cli.{module}"], command  # only its own module
