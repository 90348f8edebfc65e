"""Ordered schema migrations keyed by PRAGMA user_version (R-STATE-1).

Each step runs inside BEGIN IMMEDIATE together with the user_version bump, so a failed migration leaves
nothing half-applied. A database newer than this code is refused. Money columns are TEXT (R-STATE-2).
"""

from __future__ import annotations

import sqlite3

from btcbot.adapters.sqlite.db import Database
from btcbot.domain.errors import StateError

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate", "require_current"]

M001_INITIAL = """
CREATE TABLE cycles (
    id INTEGER PRIMARY KEY,
    stage TEXT NOT NULL,
    mode TEXT NOT NULL,
    venue TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    outcome TEXT,
    exit_code INTEGER,
    summary TEXT
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    client_order_id TEXT NOT NULL UNIQUE,
    exchange_order_id TEXT,
    venue TEXT NOT NULL,
    stage TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    method TEXT NOT NULL,
    price TEXT NOT NULL,
    quantity TEXT NOT NULL,
    filled_quantity TEXT NOT NULL DEFAULT '0',
    exchange_filled TEXT NOT NULL DEFAULT '0',
    status TEXT NOT NULL,
    intent_hash TEXT NOT NULL,
    exit_kind TEXT,
    reason TEXT,
    dry_run INTEGER NOT NULL,
    external INTEGER NOT NULL DEFAULT 0,
    probe_count INTEGER NOT NULL DEFAULT 0,
    cycle_id INTEGER REFERENCES cycles(id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX orders_venue_status ON orders (venue, status);
CREATE UNIQUE INDEX orders_exchange_id ON orders (venue, exchange_order_id)
    WHERE exchange_order_id IS NOT NULL;
CREATE TABLE fills (
    id INTEGER PRIMARY KEY,
    venue TEXT NOT NULL,
    trade_id TEXT NOT NULL,
    order_id INTEGER REFERENCES orders(id),
    exchange_order_id TEXT NOT NULL,
    client_order_id TEXT,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    price TEXT NOT NULL,
    quantity TEXT NOT NULL,
    fee TEXT NOT NULL,
    tax TEXT NOT NULL,
    fee_asset TEXT NOT NULL,
    realized_pnl TEXT NOT NULL DEFAULT '0',
    ts TEXT NOT NULL,
    cycle_id INTEGER REFERENCES cycles(id),
    UNIQUE (venue, trade_id)
);
CREATE INDEX fills_symbol_ts ON fills (venue, symbol, ts);
CREATE INDEX fills_order ON fills (order_id);
CREATE TABLE positions (
    venue TEXT NOT NULL,
    symbol TEXT NOT NULL,
    quantity TEXT NOT NULL,
    cost_basis TEXT NOT NULL,
    realized_pnl TEXT NOT NULL,
    fees_paid TEXT NOT NULL,
    last_fill_at TEXT,
    opened_at TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (venue, symbol)
);
CREATE TABLE balances (
    id INTEGER PRIMARY KEY,
    cycle_id INTEGER REFERENCES cycles(id),
    venue TEXT NOT NULL,
    asset TEXT NOT NULL,
    free TEXT NOT NULL,
    locked TEXT NOT NULL,
    as_of TEXT NOT NULL
);
CREATE INDEX balances_venue_cycle ON balances (venue, cycle_id);
CREATE TABLE actions (
    dedupe_key TEXT PRIMARY KEY,
    action_type TEXT NOT NULL,
    payload_hash TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    cycle_id INTEGER REFERENCES cycles(id),
    created_at TEXT NOT NULL
);
CREATE TABLE idempotency_keys (
    key TEXT PRIMARY KEY,
    payload_hash TEXT NOT NULL,
    result TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    cycle_id INTEGER REFERENCES cycles(id),
    ts TEXT NOT NULL,
    kind TEXT NOT NULL,
    symbol TEXT,
    client_order_id TEXT,
    code TEXT,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_cycle ON events (cycle_id);
CREATE INDEX events_order ON events (client_order_id);
CREATE TABLE exchange_rules (
    venue TEXT NOT NULL,
    symbol TEXT NOT NULL,
    payload TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (venue, symbol)
);
CREATE TABLE rate_limit_blocks (
    endpoint TEXT PRIMARY KEY,
    blocked_until TEXT NOT NULL
);
CREATE TABLE breaker (
    name TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    failures INTEGER NOT NULL,
    window TEXT NOT NULL DEFAULT '[]',
    opened_at TEXT,
    next_probe_at TEXT
);
CREATE TABLE kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""

M002_RATE_WINDOWS = """
CREATE TABLE rate_limit_windows (
    window_key TEXT PRIMARY KEY,
    stamps TEXT NOT NULL
);
"""

M003_TRAILING_MARKS = """
CREATE TABLE trailing_marks (
    venue TEXT NOT NULL,
    symbol TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    mark TEXT NOT NULL,
    stop_bps TEXT NOT NULL,
    logged_mark TEXT NOT NULL,
    armed_at TEXT NOT NULL,
    triggered_at TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (venue, symbol)
);
"""

# Indexes for the per-cycle queries that otherwise scan the whole history (R-PERF: a cycle must not slow
# down as orders and fills accumulate): recent terminal orders with a fill gap, a position's exit legs, fills
# after a row id (balance check), and fills not yet linked to an order.
M004_HISTORY_INDEXES = """
CREATE INDEX orders_venue_status_updated ON orders (venue, status, updated_at);
CREATE INDEX orders_venue_symbol_kind_created ON orders (venue, symbol, exit_kind, created_at);
CREATE INDEX fills_venue_id ON fills (venue, id);
CREATE INDEX fills_unlinked ON fills (venue) WHERE order_id IS NULL;
"""

M005_REPLACE_CHAINS = """
CREATE TABLE replace_chains (
    id INTEGER PRIMARY KEY,
    venue TEXT NOT NULL,
    root_client_order_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    old_client_order_id TEXT NOT NULL REFERENCES orders(client_order_id),
    new_client_order_id TEXT REFERENCES orders(client_order_id),
    state TEXT NOT NULL,
    trigger TEXT NOT NULL,
    planned_price TEXT NOT NULL,
    planned_quantity TEXT NOT NULL,
    old_filled_at_request TEXT NOT NULL,
    old_filled_seen TEXT NOT NULL,
    stage TEXT NOT NULL,
    cycle_id INTEGER REFERENCES cycles(id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX replace_chains_state ON replace_chains (venue, state);
CREATE INDEX replace_chains_old ON replace_chains (old_client_order_id);
CREATE INDEX replace_chains_new ON replace_chains (new_client_order_id);
CREATE INDEX replace_chains_updated ON replace_chains (venue, updated_at);
CREATE INDEX replace_chains_cycle ON replace_chains (cycle_id);
"""

# A year of history (R-PERF, issue 10): indexes for the per-cycle and `status` queries that still scanned a
# table (a position's latest filled buy, the replace-chain steps of a cycle, the day's realized PnL, terminal
# orders whose fills disagree with the venue, a venue's latest cycles when paper and live share the journal);
# row counters kept by triggers so that `status` counts rows without counting them; the record of `btcbot
# compact`'s archives.
M006_SCALE = """
CREATE INDEX orders_symbol_side_created ON orders (venue, symbol, side, created_at);
CREATE INDEX orders_fill_gap ON orders (venue, updated_at) WHERE filled_quantity != exchange_filled;
CREATE INDEX replace_chains_venue_cycle ON replace_chains (venue, cycle_id, updated_at);
CREATE INDEX fills_venue_ts ON fills (venue, ts);
CREATE INDEX cycles_venue_id ON cycles (venue, id);
CREATE TABLE row_counts (
    name TEXT PRIMARY KEY,
    n INTEGER NOT NULL
);
""" + "".join(f"""
INSERT INTO row_counts (name, n) SELECT '{table}', COUNT(*) FROM {table};
CREATE TRIGGER {table}_counted_in AFTER INSERT ON {table} BEGIN
    UPDATE row_counts SET n = n + 1 WHERE name = '{table}'; END;
CREATE TRIGGER {table}_counted_out AFTER DELETE ON {table} BEGIN
    UPDATE row_counts SET n = n - 1 WHERE name = '{table}'; END;
""" for table in ("orders", "fills", "events", "cycles")) + """
CREATE TABLE archives (
    id INTEGER PRIMARY KEY,
    file TEXT NOT NULL UNIQUE,
    sha256 TEXT NOT NULL,
    table_name TEXT NOT NULL,
    rows INTEGER NOT NULL,
    first_rowid INTEGER NOT NULL,
    last_rowid INTEGER NOT NULL,
    cutoff TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""

MIGRATIONS: tuple[tuple[str, str], ...] = (
    ("m001_initial", M001_INITIAL),
    ("m002_rate_limit_windows", M002_RATE_WINDOWS),  # request stamps of the client's windows (R-EX-4)
    ("m003_trailing_marks", M003_TRAILING_MARKS),  # armed trailing stops: high-water mark per open position
    ("m004_history_indexes", M004_HISTORY_INDEXES),
    ("m005_replace_chains", M005_REPLACE_CHAINS),  # persisted cancel/replace steps old → new (R-LIFE)
    ("m006_scale_indexes_counts_archives", M006_SCALE),  # a year of history stays cheap; `btcbot compact`
)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: Database) -> int:
    """Apply pending migrations in order; refuse a database newer than the code. Returns the version."""
    current = _version(db)
    for version, (_name, sql) in enumerate(MIGRATIONS, start=1):
        if version <= current:
            continue
        with db.atomic() as conn:
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
    return SCHEMA_VERSION


def _statements(sql: str) -> list[str]:
    """Split a migration into complete statements (a trigger body holds `;` of its own)."""
    statements, pending = [], ""
    for piece in sql.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                statements.append(pending.strip())
            pending = ""
    if pending.strip(" \n;"):
        raise ValueError(f"incomplete statement in a migration: {pending.strip()[:60]!r}")
    return statements


def require_current(db: Database) -> int:
    """Read-only commands: the schema must be exactly this code's (they never migrate)."""
    current = _version(db)
    if current < SCHEMA_VERSION:
        raise StateError(
            f"database {db.path} has schema version {current}, older than this btcbot ({SCHEMA_VERSION}); "
            "`btcbot run` migrates it (read-only commands never do)"
        )
    return current


def _version(db: Database) -> int:
    """The database's schema version; a database newer than this code is refused."""
    row = db.query_one("PRAGMA user_version")
    current = int(row[0]) if row else 0
    if current > SCHEMA_VERSION:
        raise StateError(
            f"database {db.path} has schema version {current}, newer than this btcbot "
            f"(knows {SCHEMA_VERSION}); upgrade btcbot or point --state-dir elsewhere"
        )
    return current
