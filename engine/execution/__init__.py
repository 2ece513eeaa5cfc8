"""Orders, their state machine, reconciliation and PnL (pure; talks to a venue port)."""
