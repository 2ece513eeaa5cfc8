"""`Ack`: the promise that a record is durable, usable from asyncio and from threads at once.

It is a plain object, not a coroutine: `await ack` in a coroutine, `ack.result(timeout)` in a
thread, or drop it (the original recorder's un-awaited style inside a transaction). The journal's
writer thread resolves acknowledgements in groups: one lock round and one wake-up per event loop
for a whole group commit, not one per record.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Generator, Iterable
from typing import Any

_lock = threading.Lock()  # one lock for all acks: resolving and registering waiters are short


class Ack:
    """Resolves to a value (the journal sequence number of the frame) or fails with an error."""

    __slots__ = ("_done", "_value", "_error", "_waiters", "open_transaction")

    def __init__(self) -> None:
        self._done = False
        self._value: Any = None
        self._error: BaseException | None = None
        self._waiters: list[Any] | None = None
        self.open_transaction = False  # True while it belongs to a transaction block not yet exited

    def done(self) -> bool:
        return self._done

    def _outcome(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._value

    def _guard(self) -> None:
        if self.open_transaction and not self._done:
            raise RuntimeError("this record belongs to an open recorder.transaction(): it becomes durable when "
                               "the block exits, so waiting for it inside the block would wait forever")

    def result(self, timeout: float | None = None) -> Any:
        """Block the calling thread until durable; raise TimeoutError after `timeout` seconds."""
        if not self._done:
            self._guard()
            event = threading.Event()
            with _lock:
                if not self._done:
                    self._waiters = self._waiters or []
                    self._waiters.append(event)
            if not self._done and not event.wait(timeout):
                raise TimeoutError(f"not acknowledged within {timeout} s")
        return self._outcome()

    def __await__(self) -> Generator[Any, None, Any]:
        if not self._done:
            self._guard()
            loop = asyncio.get_running_loop()
            future = loop.create_future()
            with _lock:
                if not self._done:
                    self._waiters = self._waiters or []
                    self._waiters.append((loop, future))
            if not self._done:
                yield from future.__await__()
        return self._outcome()

    def add_done_callback(self, callback: Callable[[Ack], None]) -> None:
        """Call `callback(ack)` once resolved, in the resolving thread (now, if already resolved)."""
        with _lock:
            if not self._done:
                self._waiters = self._waiters or []
                self._waiters.append(callback)
                return
        callback(self)

    def set_result(self, value: Any) -> None:
        resolve([(self, value, None)])

    def set_exception(self, error: BaseException) -> None:
        resolve([(self, None, error)])

    def __repr__(self) -> str:
        state = "pending" if not self._done else ("failed" if self._error else f"done {self._value!r}")
        return f"<Ack {state}>"


def resolve(outcomes: Iterable[tuple[Ack, Any, BaseException | None]]) -> None:
    """Resolve many acks at once (idempotent: an ack resolves only the first time)."""
    events: list[threading.Event] = []
    callbacks: list[tuple[Callable[[Ack], None], Ack]] = []
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[Any]]] = {}
    with _lock:
        for ack, value, error in outcomes:
            if ack._done:
                continue
            ack._value, ack._error, ack._done = value, error, True
            if ack._waiters:
                for waiter in ack._waiters:
                    if isinstance(waiter, threading.Event):
                        events.append(waiter)
                    elif callable(waiter):
                        callbacks.append((waiter, ack))
                    else:
                        by_loop.setdefault(waiter[0], []).append(waiter[1])
                ack._waiters = None
    for event in events:
        event.set()
    for callback, ack in callbacks:
        callback(ack)
    for loop, futures in by_loop.items():
        try:
            loop.call_soon_threadsafe(_wake, futures)
        except RuntimeError:  # that loop is closed: nobody is waiting any more
            pass


def _wake(futures: list[asyncio.Future[Any]]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)
