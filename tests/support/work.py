"""Work counters for speed guards: how many YAML values were composed, how many bytes were read
from files. A guard asserts on these counts, not on seconds, so it holds on a loaded machine
and fails on a slow algorithm (a loader that builds 2 million nodes before refusing a file
costs them whatever the clock says)."""

from __future__ import annotations

import pathlib
from dataclasses import dataclass
from typing import Any

import pytest

from kzprobe import safe_yaml


@dataclass
class Work:
    yaml_values: int = 0  # nodes the YAML composer started, on either loader (libyaml or Python)
    bytes_read: int = 0  # bytes returned by read() on files opened through pathlib


class _CountingFile:
    def __init__(self, handle: Any, work: Work) -> None:
        self._handle = handle
        self._work = work

    def read(self, *args: Any) -> Any:
        data = self._handle.read(*args)
        self._work.bytes_read += len(data)
        return data

    def __enter__(self) -> _CountingFile:
        self._handle.__enter__()
        return self

    def __exit__(self, *exc: object) -> Any:
        return self._handle.__exit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


def count_work(monkeypatch: pytest.MonkeyPatch) -> Work:
    """Start counting; the counts grow until the test ends (monkeypatch undoes the wrapping)."""
    work = Work()
    compose = safe_yaml._UntrustedLoader.compose_node
    open_path = pathlib.Path.open

    def counting_compose(self: Any, parent: Any, index: Any) -> Any:
        work.yaml_values += 1
        return compose(self, parent, index)

    def counting_open(self: pathlib.Path, *args: Any, **kwargs: Any) -> Any:
        return _CountingFile(open_path(self, *args, **kwargs), work)

    monkeypatch.setattr(safe_yaml._UntrustedLoader, "compose_node", counting_compose)
    monkeypatch.setattr(pathlib.Path, "open", counting_open)
    return work
