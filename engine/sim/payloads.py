"""Binance JSON for accounts, orders and trades: REST responses (spec §4.7-4.15, §4.11 algo orders)
and user-data events (spec §7). One function per shape; each keeps the fields ccxt reads."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.sim.accounts import Account
from engine.sim.events import AccountEvent, AlgoEvent, ConfigEvent, OrderEvent
from engine.sim.instruments import SymbolSpec, decimals
from engine.sim.margin import AccountRisk
from engine.sim.numbers import fixed
from engine.sim.orders import AlgoOrder, SimOrder, Trade


def _p(spec: SymbolSpec, value: Decimal) -> str:
    return fixed(value, decimals(spec.instrument.tick_size)) if value else "0"


def _q(spec: SymbolSpec, value: Decimal) -> str:
    return fixed(value, decimals(spec.instrument.step_size))


def _m(value: Decimal) -> str:
    return fixed(value, 8)


def order_json(order: SimOrder, spec: SymbolSpec) -> dict[str, Any]:
    return {
        "orderId": order.order_id, "symbol": order.symbol, "status": order.status, "clientOrderId": order.client_id,
        "price": _p(spec, order.price), "avgPrice": _m(order.avg_price) if order.executed else "0",
        "origQty": _q(spec, order.quantity), "executedQty": _q(spec, order.executed),
        "cumQty": _q(spec, order.executed), "cumQuote": _m(order.cum_quote), "timeInForce": order.time_in_force,
        "type": order.type, "reduceOnly": order.reduce_only, "closePosition": order.close_position,
        "side": order.side, "positionSide": "BOTH", "stopPrice": _p(spec, order.stop_price),
        "workingType": order.working_type, "priceProtect": False, "origType": order.orig_type or order.type,
        "priceMatch": "NONE", "selfTradePreventionMode": "EXPIRE_MAKER", "goodTillDate": 0,
        "time": order.time, "updateTime": order.update_time,
    }


def algo_json(algo: AlgoOrder, spec: SymbolSpec) -> dict[str, Any]:
    return {
        "algoId": algo.algo_id, "clientAlgoId": algo.client_id, "algoType": "CONDITIONAL",
        "orderType": algo.order_type, "symbol": algo.symbol, "side": algo.side, "positionSide": "BOTH",
        "timeInForce": algo.time_in_force, "quantity": _q(spec, algo.quantity), "algoStatus": algo.status,
        "triggerPrice": _p(spec, algo.trigger_price), "price": _p(spec, algo.price), "icebergQuantity": None,
        "selfTradePreventionMode": "EXPIRE_MAKER", "workingType": algo.working_type, "priceMatch": "NONE",
        "closePosition": algo.close_position, "priceProtect": algo.price_protect, "reduceOnly": algo.reduce_only,
        "createTime": algo.create_time, "updateTime": algo.update_time, "triggerTime": algo.trigger_time,
        "goodTillDate": 0,
        "actualOrderId": str(algo.actual_order_id) if algo.actual_order_id else "",
        "actualPrice": _m(algo.actual_avg) if algo.actual_executed else "",
    }


def trade_json(trade: Trade, spec: SymbolSpec) -> dict[str, Any]:
    return {
        "symbol": trade.symbol, "id": trade.trade_id, "orderId": trade.order_id, "side": trade.side,
        "price": _p(spec, trade.price), "qty": _q(spec, trade.quantity), "realizedPnl": _m(trade.realized_pnl),
        "quoteQty": _m(trade.quote_qty), "commission": _m(trade.commission), "commissionAsset": "USDT",
        "time": trade.time, "positionSide": "BOTH", "buyer": trade.side == "BUY", "maker": trade.maker,
        "marginAsset": "USDT",
    }


def account_json(account: Account, risk: AccountRisk) -> dict[str, Any]:
    update = max(1, account.update_time)
    totals = {
        "totalInitialMargin": _m(risk.initial_margin), "totalMaintMargin": _m(risk.maint_margin),
        "totalWalletBalance": _m(risk.wallet), "totalUnrealizedProfit": _m(risk.unrealized),
        "totalMarginBalance": _m(risk.equity), "totalPositionInitialMargin": _m(risk.position_initial_margin),
        "totalOpenOrderInitialMargin": _m(risk.open_order_initial_margin),
        "totalCrossWalletBalance": _m(risk.cross_wallet), "totalCrossUnPnl": _m(risk.cross_unrealized),
        "availableBalance": _m(risk.available), "maxWithdrawAmount": _m(risk.max_withdraw),
    }
    asset = {
        "asset": "USDT", "walletBalance": _m(risk.wallet), "unrealizedProfit": _m(risk.unrealized),
        "marginBalance": _m(risk.equity), "maintMargin": _m(risk.maint_margin),
        "initialMargin": _m(risk.initial_margin), "positionInitialMargin": _m(risk.position_initial_margin),
        "openOrderInitialMargin": _m(risk.open_order_initial_margin), "crossWalletBalance": _m(risk.cross_wallet),
        "crossUnPnl": _m(risk.cross_unrealized), "availableBalance": _m(risk.available),
        "maxWithdrawAmount": _m(risk.max_withdraw), "updateTime": update,
    }
    positions = [{
        "symbol": r.symbol, "positionSide": "BOTH", "positionAmt": fixed(r.amount, 8).rstrip("0").rstrip("."),
        "unrealizedProfit": _m(r.unrealized), "isolatedMargin": _m(r.isolated_wallet + r.unrealized) if r.isolated else "0",
        "notional": _m(r.notional), "isolatedWallet": _m(r.isolated_wallet), "initialMargin": _m(r.initial_margin),
        "maintMargin": _m(r.maint_margin), "updateTime": account.positions[r.symbol].update_time,
    } for r in risk.positions]
    return {**totals, "assets": [asset], "positions": positions}


def position_risk_json(account: Account, risk: AccountRisk, specs: dict[str, SymbolSpec],
                       symbol: str | None) -> list[dict[str, Any]]:
    rows = []
    for r in risk.positions:
        if symbol and r.symbol != symbol:
            continue
        pos = account.positions[r.symbol]
        spec = specs[r.symbol]
        rows.append({
            "symbol": r.symbol, "positionSide": "BOTH", "positionAmt": _q(spec, r.amount),
            "entryPrice": _m(r.entry_price), "breakEvenPrice": _m(pos.break_even()), "markPrice": _m(r.mark),
            "unRealizedProfit": _m(r.unrealized), "liquidationPrice": _m(r.liquidation_price) if r.liquidation_price else "0",
            "isolatedMargin": _m(r.isolated_wallet + r.unrealized) if r.isolated else "0",
            "notional": _m(r.notional), "marginAsset": "USDT",
            "isolatedWallet": _m(r.isolated_wallet), "initialMargin": _m(r.initial_margin),
            "maintMargin": _m(r.maint_margin), "positionInitialMargin": _m(r.initial_margin),
            "openOrderInitialMargin": "0", "adl": 0, "bidNotional": "0", "askNotional": "0",
            "updateTime": pos.update_time, "leverage": str(r.leverage),
        })
    return rows


# ---- user-data events -------------------------------------------------------------------------
def order_update(event: OrderEvent, spec: SymbolSpec) -> dict[str, Any]:
    o, t = event.order, event.trade
    return {"e": "ORDER_TRADE_UPDATE", "E": event.time, "T": event.time, "o": {
        "s": o.symbol, "c": o.client_id, "S": o.side, "o": o.type, "f": o.time_in_force, "q": _q(spec, o.quantity),
        "p": _p(spec, o.price), "ap": _m(o.avg_price) if o.executed else "0", "sp": _p(spec, o.stop_price),
        "x": event.execution, "X": o.status, "i": o.order_id,
        "l": _q(spec, t.quantity) if t else "0", "z": _q(spec, o.executed), "L": _p(spec, t.price) if t else "0",
        "N": "USDT", "n": _m(t.commission) if t else "0", "T": event.time, "t": t.trade_id if t else 0,
        "b": "0", "a": "0", "m": bool(t and t.maker), "R": o.reduce_only, "wt": o.working_type,
        "ot": o.orig_type or o.type, "ps": "BOTH", "cp": o.close_position, "rp": _m(t.realized_pnl) if t else "0",
        "pP": False, "si": 0, "ss": 0, "V": "EXPIRE_MAKER", "pm": "NONE", "gtd": 0}}


def algo_update(event: AlgoEvent, spec: SymbolSpec) -> dict[str, Any]:
    a = event.algo
    actual = "MARKET" if a.order_type.endswith("_MARKET") else "LIMIT"
    return {"e": "ALGO_UPDATE", "T": event.time, "E": event.time, "o": {
        "caid": a.client_id, "aid": a.algo_id, "at": "CONDITIONAL", "o": a.order_type, "s": a.symbol, "S": a.side,
        "ps": "BOTH", "f": a.time_in_force, "q": _q(spec, a.quantity), "X": a.status,
        "ai": str(a.actual_order_id) if a.actual_order_id else "",
        "ap": _m(a.actual_avg), "aq": _q(spec, a.actual_executed), "act": actual if a.actual_order_id else "0",
        "tp": _p(spec, a.trigger_price), "p": _p(spec, a.price), "V": "EXPIRE_MAKER", "wt": a.working_type,
        "pm": "NONE", "cp": a.close_position, "pP": a.price_protect, "R": a.reduce_only, "tt": a.trigger_time,
        "gtd": 0, "rm": a.fail_reason}}


def account_update(event: AccountEvent, specs: dict[str, SymbolSpec]) -> dict[str, Any]:
    return {"e": "ACCOUNT_UPDATE", "E": event.time, "T": event.time, "a": {
        "m": event.reason,
        "B": [{"a": "USDT", "wb": _m(event.wallet), "cw": _m(event.cross_wallet), "bc": _m(event.balance_change)}],
        "P": [{"s": p.symbol, "pa": _q(specs[p.symbol], p.amount), "ep": _m(p.entry_price), "bep": _m(p.break_even),
               "cr": _m(p.realized), "up": _m(p.unrealized), "mt": p.margin_type, "iw": _m(p.isolated_wallet),
               "ps": "BOTH"} for p in event.positions]}}


def config_update(event: ConfigEvent) -> dict[str, Any]:
    return {"e": "ACCOUNT_CONFIG_UPDATE", "E": event.time, "T": event.time,
            "ac": {"s": event.symbol, "l": event.leverage}}
