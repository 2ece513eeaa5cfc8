"""The guard in tests/conftest.py that fails a test which starts a server or a process without the
`integration` marker: a real bind is seen and named, `free_port`'s probe is not, and a marked test passes."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from engine.child import free_port
from tests import conftest


class _Item:
    """What the teardown hook reads of a test item."""

    def __init__(self, marked: bool) -> None:
        self.nodeid = "tests/x.py::test_x"
        self._marked = marked

    def get_closest_marker(self, name: str) -> object | None:
        return object() if self._marked and name == "integration" else None


def _teardown(item: _Item) -> None:
    hook: Iterator[None] = conftest.pytest_runtest_teardown(item)  # type: ignore[arg-type]
    next(hook)
    with pytest.raises(StopIteration):
        hook.send(None)


@pytest.fixture
def bound() -> Iterator[None]:
    """A listening socket bound now (the guard's record of it is the test's to check, then cleared)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        yield
    conftest._started.clear()


def test_a_server_in_an_unmarked_test_fails_naming_what_it_bound(bound: None) -> None:
    with pytest.raises(pytest.fail.Exception, match=r"tests/x.py::test_x starts a server \(bound to \('127.0.0.1', "
                                                   r"0\)\) but is not marked integration"):
        _teardown(_Item(marked=False))
    assert conftest._started == []       # reported once


def test_a_marked_test_may_start_one(bound: None) -> None:
    _teardown(_Item(marked=True))


def test_asking_for_a_free_port_is_not_a_server() -> None:
    conftest._started.clear()
    free_port()
    assert conftest._started == []
    _teardown(_Item(marked=False))
