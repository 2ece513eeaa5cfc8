"""Exchange adapters: ccxt for Binance USDⓈ-M REST. Vendor JSON and vendor errors are translated
into domain types and our error hierarchy here, and nowhere else."""
