"""The webhook sink against a real local receiver: a Slack/Discord-shaped body, retries with
backoff on failures, never blocking the caller, and the URL never in the log."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from engine.core.backoff import Backoff
from engine.core.secret import Secret
from engine.health.alerts import Notice, NoticeKind
from engine.health.levels import Level
from engine.health.sink import WebhookSink, log_notice
from tests.health.receiver import Receiver

pytestmark = pytest.mark.integration
NOTICE = Notice(NoticeKind.ALERT, "websocket", Level.UNHEALTHY, 3, "no market frame for 9 s", 0, 180_000)


async def fast(_delay: float) -> None:
    await asyncio.sleep(0.01)


async def until(check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def test_a_notice_arrives_with_a_text_field_and_its_structured_fields() -> None:
    receiver = await Receiver().start()
    sink = WebhookSink(Secret(receiver.url), sleep=fast)
    try:
        sink.send(NOTICE)
        await until(lambda: receiver.bodies)
        (body,) = receiver.bodies
        assert body["text"].startswith("🏥 websocket UNHEALTHY for 3 consecutive checks")
        assert (body["kind"], body["component"], body["level"], body["checks"]) == ("alert", "websocket", "UNHEALTHY", 3)
    finally:
        await sink.aclose()
        await receiver.stop()


async def test_failed_posts_are_retried_with_backoff_and_delivered_once(caplog: pytest.LogCaptureFixture) -> None:
    receiver = await Receiver(fail=2).start()
    delays: list[float] = []

    async def note(delay: float) -> None:
        delays.append(delay)
        await asyncio.sleep(0.01)

    sink = WebhookSink(Secret(receiver.url), sleep=note, backoff=Backoff(base=1.0, jitter=0.0))
    try:
        with caplog.at_level(logging.WARNING, logger="engine.health"):
            sink.send(NOTICE)
            await until(lambda: receiver.bodies)
        assert receiver.attempts == 3 and len(receiver.bodies) == 1 and delays == [1.0, 2.0]
        assert sink.stats.sent == 1 and sink.stats.failed_attempts == 2
        assert "HTTP 500" in caplog.text and "plantedwebhooksecret" not in caplog.text
    finally:
        await sink.aclose()
        await receiver.stop()


async def test_with_the_receiver_down_send_returns_at_once_and_gives_up_after_max_attempts(
        caplog: pytest.LogCaptureFixture) -> None:
    receiver = await Receiver().start()
    url = receiver.url
    await receiver.stop()   # nothing listens on that port now
    sink = WebhookSink(Secret(url), sleep=fast, max_attempts=3)
    try:
        with caplog.at_level(logging.WARNING, logger="engine.health"):
            began = time.perf_counter()
            for _ in range(5):
                sink.send(NOTICE)
            assert time.perf_counter() - began < 0.5   # queued, not sent, on the caller's time
            await until(lambda: sink.stats.given_up == 5, 20)
        assert sink.stats.failed_attempts == 15 and sink.stats.sent == 0
        assert "ClientConnectorError" in caplog.text and "gave up" in caplog.text
        assert "plantedwebhooksecret" not in caplog.text and "plantedwebhooksecret" not in repr(sink)
    finally:
        await sink.aclose()


async def test_a_full_queue_drops_the_oldest() -> None:
    receiver = await Receiver().start()
    sink = WebhookSink(Secret(receiver.url), sleep=fast, queue_size=2)
    try:
        for checks in (1, 2, 3, 4):   # the drain task starts only when the loop gets a turn
            sink.send(Notice(NoticeKind.ALERT, "api", Level.UNHEALTHY, checks, "x", 0, 0))
        await until(lambda: len(receiver.bodies) == 2)
        assert [b["checks"] for b in receiver.bodies] == [3, 4] and sink.stats.dropped == 2
    finally:
        await sink.aclose()
        await receiver.stop()


def test_the_log_sink_warns_on_alerts_and_informs_on_recovery(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="engine.health"):
        log_notice(NOTICE)
        log_notice(Notice(NoticeKind.RECOVERY, "websocket", Level.HEALTHY, 3, "ok", 0, 240_000))
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.INFO]
    assert all("🏥" in r.getMessage() for r in caplog.records)
