"""The record tap's counters and the candle-to-ack join, and the HTTP endpoints on a real
aiohttp server: /health's status follows the level, /metrics parses with prometheus-client."""

from __future__ import annotations

from decimal import Decimal as D

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine.core.types import Candle, EquitySnapshot, Fill, Order, OrderStatus, OrderType, Side, SignalRecord
from engine.health.levels import ComponentHealth, Level
from engine.health.metrics import Metrics, RecordTap
from engine.health.report import HealthReport
from engine.health.server import HealthServer


def candle(open_time: int, received: int) -> Candle:
    return Candle("BTCUSDT", "1m", open_time, open_time + 59_999, 1, 2, 0.5, 1.5, 10, received_time=received)


def signal(sid: str, open_time: int) -> SignalRecord:
    return SignalRecord(sid, "bootstrap", "BTCUSDT", "1m", Side.BUY, 0.5, 0.5, 1.0, 0.1, True, candle_open_time=open_time)


def order(sid: str, status: OrderStatus, received: int) -> Order:
    return Order(f"{sid}-E", "main", "BTCUSDT", Side.BUY, OrderType.MARKET, D(1), signal_id=sid, status=status,
                 received_time=received)


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def test_counters_and_the_candle_to_ack_latency_whatever_order_the_records_arrive_in() -> None:
    m = Metrics()
    # signal and ack first, the candle (written by the feed's own writer) last
    m.observe((signal("s1", 0),))
    m.observe((order("s1", OrderStatus.PENDING, 1_000), order("s1", OrderStatus.NEW, 1_040)))
    m.observe((candle(0, 1_000),))
    # the usual order, and a second acknowledgement of the same entry that must not count again
    m.observe((candle(60_000, 61_000), signal("s2", 60_000), order("s2", OrderStatus.NEW, 61_250)))
    m.observe((order("s2", OrderStatus.FILLED, 61_400), order("s3", OrderStatus.REJECTED, 0)))
    m.observe((Fill("main", "BTCUSDT", "t1", "s2-E", "9", Side.BUY, D(1), D(1), D(0), "USDT"),
               EquitySnapshot("main", D(1000), D("-12.5"), D(900))))
    got = samples(m)
    assert got[("slt_candles_total", ())] == 2 and got[("slt_signals_total", (("admitted", "true"),))] == 2
    assert got[("slt_orders_total", (("state", "NEW"),))] == 2 and got[("slt_rejects_total", ())] == 1
    assert got[("slt_fills_total", ())] == 1 and got[("slt_equity", (("account", "main"),))] == 987.5
    assert got[("slt_candle_to_ack_seconds_count", ())] == 2
    assert got[("slt_candle_to_ack_seconds_sum", ())] == pytest.approx(0.29)
    assert m.take_latency() == 250 and m.take_latency() is None
    assert got[("slt_health_cpu_seconds_total", ())] > 0   # the tap's own time is accounted


def test_gauges_follow_the_report_regimes_and_model() -> None:
    m = Metrics()
    m.on_report(HealthReport(0, 1, (ComponentHealth("api", Level.UNHEALTHY), ComponentHealth("memory", Level.HEALTHY)), {}))
    m.set_regimes({"BTCUSDT": "NORMAL"})
    m.set_regimes({"BTCUSDT": "CRASH"})
    m.set_model("bootstrap", "bootstrap")
    got = samples(m)
    assert got[("slt_health_level", (("component", "api"),))] == 2 and got[("slt_health_overall", ())] == 2
    assert got[("slt_regime", (("regime", "CRASH"), ("symbol", "BTCUSDT")))] == 1
    assert ("slt_regime", (("regime", "NORMAL"), ("symbol", "BTCUSDT"))) not in got
    assert got[("slt_model_info", (("policy", "bootstrap"), ("version", "bootstrap")))] == 1


class Journal:
    def __init__(self) -> None:
        self.records: list[object] = []

    def record(self, *records: object) -> str:
        self.records += records
        return "ack"

    def record_now(self, *records: object) -> int:
        self.records += records
        return 7

    def stats(self) -> str:
        return "stats"


def test_the_tap_passes_everything_through_and_observes_it() -> None:
    seen: list[object] = []
    inner = Journal()
    tap = RecordTap(inner, lambda records: seen.extend(records))
    assert tap.record(candle(0, 0)) == "ack" and tap.record_now(signal("s", 0)) == 7 and tap.stats() == "stats"
    assert len(inner.records) == 2 and seen == inner.records


@pytest.mark.integration
async def test_health_answers_200_or_503_by_level_and_metrics_parse() -> None:
    reports: list[HealthReport | None] = [None]
    metrics = Metrics()
    metrics.observe((candle(0, 0),))
    server = HealthServer(lambda: reports[-1], metrics, "127.0.0.1", 0)
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(server.url + "/health") as r:
                assert r.status == 503 and (await r.json())["status"] == "STARTING"
            for level, status in ((Level.HEALTHY, 200), (Level.DEGRADED, 200), (Level.UNHEALTHY, 503),
                                  (Level.CRITICAL, 503)):
                reports.append(HealthReport(1, 1, (ComponentHealth("websocket", level, ("x",)),), {}))
                async with http.get(server.url + "/health") as r:
                    body = await r.json()
                    assert r.status == status and body["status"] == level.name
                    assert body["components"]["websocket"]["status"] == level.name
            async with http.get(server.url + "/metrics") as r:
                assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
                names = {f.name for f in text_string_to_metric_families(await r.text())}
        assert {"slt_candles", "slt_candle_to_ack_seconds", "slt_health_level", "slt_equity"} <= names
    finally:
        await server.stop()
