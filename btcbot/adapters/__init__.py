"""Adapters: thin implementations of the ports (BTCTurk HTTP, simulator, SQLite, file lock)."""
