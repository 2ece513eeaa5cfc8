"""SelfLearningTrader: the streaming engine and all domain logic."""
