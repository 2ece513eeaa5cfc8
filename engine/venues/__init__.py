"""Exchange adapters (edge): ccxt set-up and translation of vendor JSON and errors."""
