"""stack/stack.sh itself: `up` twice is harmless, a taken port is named, `down` stops exactly
what `up` started and leaves no port open."""

from __future__ import annotations

import os
import socket
import subprocess

import pytest

from .conftest import STACK, stack

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("the_stack")]

PUBLISHED = (4317, 4318, 13133, 16686, 9090)


def pids() -> dict[str, int]:
    found = {}
    for line in stack("status").splitlines():
        if "(pid " in line:
            found[line.split(":")[0]] = int(line.split("(pid ")[1].split(",")[0])
    return found


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_up_twice_is_harmless() -> None:
    before = pids()
    assert set(before) == {"collector", "jaeger", "prometheus"}
    stack("up")
    assert pids() == before


def test_a_taken_port_is_named_and_nothing_else_starts() -> None:
    stack("down", "prometheus")
    holder = socket.socket()
    try:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 9090))
        holder.listen()
        result = subprocess.run(
            ["bash", str(STACK), "up"], capture_output=True, text=True, check=False, env=os.environ
        )
        assert result.returncode != 0
        assert "port 9090 is already in use" in result.stderr
        assert "prometheus" not in pids()
    finally:
        holder.close()
    stack("up")
    assert "prometheus" in pids()


def test_down_stops_exactly_what_up_started_and_frees_every_port() -> None:
    started = pids()
    stack("down")
    for pid in started.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not [port for port in PUBLISHED if listening(port)]
    assert pids() == {}
    stack("up")
    assert all(listening(port) for port in PUBLISHED)
