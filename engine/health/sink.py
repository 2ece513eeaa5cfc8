"""Alert sinks: the log, and a webhook (Slack and Discord incoming webhooks take a JSON body with a
`text` field; the structured fields ride along).

The webhook never blocks or slows the engine: `send()` only puts the notice on a bounded queue
(the oldest is dropped when it is full, and counted); one background task posts them in order,
retrying a failed post with capped exponential backoff and jitter until `max_attempts`. The URL
is a secret: it is registered with the log's masking filter and no error message that could hold
it is logged (only the failure's kind and the HTTP status).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp

from engine.core.backoff import Backoff
from engine.core.secret import Secret
from engine.health.alerts import Notice, NoticeKind
from engine.logs import register_secret

log = logging.getLogger("engine.health")


def log_notice(notice: Notice) -> None:
    """The log sink: an alert is a warning, a recovery an info line, both with 🏥."""
    log.log(logging.WARNING if notice.kind is NoticeKind.ALERT else logging.INFO, "%s", notice.text)


@dataclass
class WebhookStats:
    sent: int = 0
    failed_attempts: int = 0
    given_up: int = 0
    dropped: int = 0
    queued: int = 0


class WebhookSink:
    def __init__(self, url: Secret, *, timeout_s: float = 5.0, max_attempts: int = 8, queue_size: int = 100,
                 backoff: Backoff | None = None, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        if not url:
            raise ValueError("a webhook sink needs a URL")
        register_secret(url.reveal())
        self._url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.max_attempts = max_attempts
        self.backoff = backoff or Backoff(base=1.0, cap=60.0, long_after=max_attempts + 1)
        self._sleep = sleep
        self._queue: asyncio.Queue[Notice] = asyncio.Queue(maxsize=queue_size)
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self.stats = WebhookStats()

    def __repr__(self) -> str:
        return "WebhookSink(url=Secret('********'))"

    def send(self, notice: Notice) -> None:
        """Queue a notice; returns at once."""
        if self._queue.full():
            self._queue.get_nowait()
            self.stats.dropped += 1
            log.warning("🏥 alert webhook queue full: dropped the oldest notice")
        self._queue.put_nowait(notice)
        self.stats.queued = self._queue.qsize()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="alert-webhook")

    async def aclose(self, timeout_s: float = 2.0) -> None:
        """Give queued notices `timeout_s` to go out, then stop."""
        if self._task is not None and not self._task.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def _drain(self) -> None:
        while not self._queue.empty():
            notice = self._queue.get_nowait()
            self.stats.queued = self._queue.qsize()
            await self._deliver(notice)

    async def _deliver(self, notice: Notice) -> None:
        for attempt in range(1, self.max_attempts + 1):
            failure = await self._post(notice.as_dict())
            if failure is None:
                self.stats.sent += 1
                self.backoff.success()
                return
            self.stats.failed_attempts += 1
            if attempt == self.max_attempts:
                break
            delay = self.backoff.failure()
            log.warning("🏥 alert webhook: %s (attempt %d of %d); retrying in %.1f s", failure, attempt,
                        self.max_attempts, delay)
            await self._sleep(delay)
        self.stats.given_up += 1
        self.backoff.success()
        log.error("🏥 alert webhook: gave up on the %s notice for %s after %d attempts (it is in the log)",
                  notice.kind.value, notice.component, self.max_attempts)

    async def _post(self, body: dict[str, object]) -> str | None:
        """None when the receiver took it (2xx); else what went wrong, without the URL."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(self._url.reveal(), json=body) as response:
                if 200 <= response.status < 300:
                    return None
                return f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return f"{type(exc).__name__}"
