"""Prometheus metrics (prometheus-client, a registry of our own) and the record tap that feeds them.

Counters come from the records the engine journals (`RecordTap` sits in front of the recorder, so
nothing in the trading path changes): candles, signals, order reports by state, fills, rejects, and
the candle-to-acknowledgement latency (a closed candle's receipt to the first acknowledgement of
the entry its signal opened). Gauges are set at each health check from the probes' figures.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from engine.core.types import Candle, EquitySnapshot, Fill, Order, OrderStatus, SignalRecord
from engine.health.report import HealthReport

ACKED = (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
KEEP = 2048  # candles and signals remembered for the latency join
CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.candles = Counter("slt_candles", "Closed candles recorded", registry=r)
        self.signals = Counter("slt_signals", "Signals produced", ["admitted"], registry=r)
        self.orders = Counter("slt_orders", "Order reports recorded, by state", ["state"], registry=r)
        self.fills = Counter("slt_fills", "Fills recorded", registry=r)
        self.rejects = Counter("slt_rejects", "Orders rejected by the exchange", registry=r)
        self.candle_to_ack = Histogram("slt_candle_to_ack_seconds", "Closed candle received to entry acknowledged",
                                       buckets=LATENCY_BUCKETS, registry=r)
        self.reconnects = Gauge("slt_ws_reconnects", "Market stream reconnects since start", registry=r)
        self.journal_pending = Gauge("slt_journal_pending_records", "Journaled records not yet in the store",
                                     registry=r)
        self.journal_lag = Gauge("slt_journal_lag_seconds", "Since the store last took records while some waited",
                                 registry=r)
        self.equity = Gauge("slt_equity", "Account equity (wallet + unrealised PnL)", ["account"], registry=r)
        self.drawdown = Gauge("slt_drawdown", "Today's drawdown, fraction of the day's peak equity", registry=r)
        self.regime = Gauge("slt_regime", "Market regime per symbol (1 for the current one)", ["symbol", "regime"],
                            registry=r)
        self.model = Gauge("slt_model_info", "The signal policy in use (1)", ["policy", "version"], registry=r)
        self.level = Gauge("slt_health_level", "Health level per component: 0 healthy .. 3 critical", ["component"],
                           registry=r)
        self.own_cpu = Counter("slt_health_cpu_seconds", "CPU time the health monitor itself used: its checks and "
                               "the record tap (not its loop-lag ticker's wake-ups nor its exchange call)", registry=r)
        self.overall = Gauge("slt_health_overall", "Overall health level: 0 healthy .. 3 critical", registry=r)
        self._candles: OrderedDict[tuple[str, int], int] = OrderedDict()   # (symbol, open time) -> received
        self._signals: OrderedDict[str, tuple[str, int]] = OrderedDict()   # signal id -> (symbol, candle open)
        self._acked: OrderedDict[str, None] = OrderedDict()                # signals whose entry was timed
        self._orders: OrderedDict[str, int] = OrderedDict()                # signal id -> ack received, waiting
        self._regimes: dict[str, str] = {}
        self._model: tuple[str, str] | None = None
        self.worst_latency_ms: float | None = None                          # since the last `take_latency()`

    # ---- the record tap ---------------------------------------------------------------------
    def observe(self, records: tuple[Any, ...]) -> None:
        began = time.thread_time()
        self._observe(records)
        self.own_cpu.inc(time.thread_time() - began)

    def _observe(self, records: tuple[Any, ...]) -> None:
        for record in records:
            if isinstance(record, Candle):
                if record.closed:
                    self.candles.inc()
                    _keep(self._candles, (record.symbol, record.open_time), record.received_time)
                    self._join_candle(record.symbol, record.open_time)
            elif isinstance(record, Order):
                self.orders.labels(record.status.value).inc()
                if record.status is OrderStatus.REJECTED:
                    self.rejects.inc()
                elif record.status in ACKED and record.signal_id and record.signal_id not in self._acked:
                    _keep(self._orders, record.signal_id, record.received_time)
                    self._join(record.signal_id)
            elif isinstance(record, SignalRecord):
                self.signals.labels(str(record.admitted).lower()).inc()
                _keep(self._signals, record.signal_id, (record.symbol, record.candle_open_time))
                self._join(record.signal_id)
            elif isinstance(record, Fill):
                self.fills.inc()
            elif isinstance(record, EquitySnapshot):
                self.equity.labels(record.account).set(float(record.wallet_balance + record.unrealized_pnl))

    def _join_candle(self, symbol: str, open_time: int) -> None:
        for signal_id in [s for s in self._orders if self._signals.get(s) == (symbol, open_time)]:
            self._join(signal_id)

    def _join(self, signal_id: str) -> None:
        ref = self._signals.get(signal_id)
        acked = self._orders.get(signal_id)
        received = self._candles.get(ref) if ref is not None else None
        if acked is None or received is None or signal_id in self._acked:
            return
        del self._orders[signal_id]
        _keep(self._acked, signal_id, None)
        seconds = max(0.0, (acked - received) / 1000)
        self.candle_to_ack.observe(seconds)
        self.worst_latency_ms = max(self.worst_latency_ms or 0.0, seconds * 1000)

    def take_latency(self) -> float | None:
        """The worst candle-to-ack latency since the previous call (ms), for the latency rules."""
        worst, self.worst_latency_ms = self.worst_latency_ms, None
        return worst

    # ---- gauges at each check ---------------------------------------------------------------
    def on_report(self, report: HealthReport) -> None:
        for check in report.components:
            self.level.labels(check.component).set(int(check.level))
        self.overall.set(int(report.level))

    def set_regimes(self, regimes: dict[str, str]) -> None:
        for symbol, regime in regimes.items():
            old = self._regimes.get(symbol)
            if old != regime:
                if old is not None:
                    self.regime.remove(symbol, old)
                self.regime.labels(symbol, regime).set(1)
                self._regimes[symbol] = regime

    def set_model(self, policy: str, version: str) -> None:
        if self._model != (policy, version):
            if self._model is not None:
                self.model.remove(*self._model)
            self.model.labels(policy, version).set(1)
            self._model = (policy, version)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def _keep(table: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    table[key] = value
    table.move_to_end(key)
    while len(table) > KEEP:
        table.popitem(last=False)


class RecordTap:
    """A recorder in front of the recorder: every record passes `observe` on its way to the journal.
    Anything else (stats, flush, close) goes to the recorder itself."""

    def __init__(self, recorder: Any, observe: Callable[[tuple[Any, ...]], None]) -> None:
        self._recorder = recorder
        self._observe = observe

    def record(self, *records: Any) -> Any:
        ack = self._recorder.record(*records)
        self._observe(records)
        return ack

    def record_now(self, *records: Any) -> int:
        seq = self._recorder.record_now(*records)
        self._observe(records)
        return int(seq)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._recorder, name)
