"""engine.sim: a local Binance USDⓈ-M futures exchange that unmodified ccxt and websockets clients use
as if it were Binance. Pure core (`matching`, `accounts`, `margin`, `settlement`, `validation`), market
replay (`tape`, `path`, `market`, `replay`, `synthetic`) and the edge (`server`, `rest_*`, `ws`, `admin`,
`faults`). Start it with `slt sim` or `python -m engine.sim`."""
