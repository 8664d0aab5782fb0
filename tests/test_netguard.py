import socket
import subprocess
import sys

import pytest


@pytest.mark.parametrize("address", ["192.0.2.1", "8.8.8.8", "10.0.0.1", "2001:db8::1"])
def test_guard_refuses_addresses_outside_the_lab(address, network_guard_log):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s, pytest.raises(PermissionError):
        s.connect((address, 53))
    assert address in network_guard_log.read_text()
    network_guard_log.write_text("")  # the refusal was the point of this test


def test_guard_allows_loopback():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("127.0.0.1", 9))


def test_guard_is_active_in_subprocesses(network_guard_log):
    code = "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(('192.0.2.7', 53))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode != 0 and "PermissionError" in proc.stderr
    assert "192.0.2.7" in network_guard_log.read_text()
    network_guard_log.write_text("")
