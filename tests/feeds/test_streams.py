"""Stream names, the connection plan (families, 1024 streams per connection) and option checks."""

from __future__ import annotations

import json

import pytest

from engine.feeds.options import FeedOptions
from engine.feeds.streams import plan_connections, stream_names


def test_default_streams_are_klines_and_mark_prices_on_one_market_connection() -> None:
    [plan] = plan_connections(FeedOptions(symbols=("BTCUSDT", "ETHUSDT")))
    assert plan.name == "market-0" and plan.family == "market"
    assert plan.streams == ("btcusdt@kline_1m", "btcusdt@markPrice@1s", "ethusdt@kline_1m", "ethusdt@markPrice@1s")


def test_book_ticker_goes_to_the_public_family_unless_routing_is_off() -> None:
    opts = FeedOptions(symbols=("BTCUSDT",), intervals=("1m", "5m"), agg_trade=True, book_ticker=True,
                       mark_price="markPrice")
    assert stream_names(opts) == [("market", "btcusdt@kline_1m"), ("market", "btcusdt@kline_5m"),
                                  ("market", "btcusdt@markPrice"), ("market", "btcusdt@aggTrade"),
                                  ("public", "btcusdt@bookTicker")]
    assert [(p.name, len(p.streams)) for p in plan_connections(opts)] == [("market-0", 4), ("public-0", 1)]
    legacy = FeedOptions(symbols=("BTCUSDT",), book_ticker=True, routed=False)
    assert [(p.name, len(p.streams)) for p in plan_connections(legacy)] == [("market-0", 3)]


def test_no_connection_carries_more_than_1024_streams() -> None:
    symbols = tuple(f"S{i:03d}USDT" for i in range(600))
    plans = plan_connections(FeedOptions(symbols=symbols))
    assert [len(p.streams) for p in plans] == [1024, 176]
    assert len({s for p in plans for s in p.streams}) == 1200
    smaller = plan_connections(FeedOptions(symbols=symbols, max_streams_per_connection=500))
    assert [len(p.streams) for p in smaller] == [500, 500, 200]
    with pytest.raises(ValueError, match="max_streams_per_connection must be 1-1024"):
        FeedOptions(symbols=symbols, max_streams_per_connection=1025)


def test_urls_and_subscribe_messages() -> None:
    [plan] = plan_connections(FeedOptions(symbols=("BTCUSDT",)))
    assert plan.url("wss://fstream.binance.com", routed=True, streams_in_url=False) == \
        "wss://fstream.binance.com/market/stream"
    assert plan.url("ws://127.0.0.1:8765/", routed=False, streams_in_url=True) == \
        "ws://127.0.0.1:8765/stream?streams=btcusdt@kline_1m/btcusdt@markPrice@1s"
    many = plan_connections(FeedOptions(symbols=tuple(f"S{i:03d}USDT" for i in range(250))))[0]
    messages = [json.loads(m) for m in many.subscribe_messages(batch=200)]
    assert [(m["method"], m["id"], len(m["params"])) for m in messages] == [("SUBSCRIBE", 1, 200),
                                                                          ("SUBSCRIBE", 2, 200), ("SUBSCRIBE", 3, 100)]


def test_bad_options_are_named() -> None:
    with pytest.raises(ValueError) as err:
        FeedOptions(symbols=(), intervals=("2m",), ping_timeout=0, subscribe="poll", backoff_jitter=1.0)
    text = str(err.value)
    for part in ("symbols must not be empty", "interval '2m'", "ping_timeout must be seconds > 0",
                 "subscribe must be one of", "backoff_jitter"):
        assert part in text


def test_read_limit_maps_onto_max_queue() -> None:
    assert FeedOptions(symbols=("BTCUSDT",)).max_queue == 128       # 64 KB of ~512-byte frames
