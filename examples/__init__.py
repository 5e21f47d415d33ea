"""Runnable examples (each is run by tests/examples)."""
