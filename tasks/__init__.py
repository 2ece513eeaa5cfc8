"""Prefect tasks grouped by domain; the logic they call lives in `engine/`."""
