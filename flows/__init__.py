"""Prefect flows: thin orchestration over tasks (one flow per module)."""
