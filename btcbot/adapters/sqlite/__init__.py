"""SQLite persistence: connection helpers, migrations and the Store."""
