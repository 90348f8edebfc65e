"""`btcbot compact` (R-STATE-5): move journal rows that nothing needs any more into compressed archives beside
the journal, then delete them; never silently (a preview unless applied, and every archive is recorded).

What is archived, what is kept and why: `adapters/sqlite/compaction.py` (RULES, NEVER). Each batch of rows is
written to `<state dir>/archive/<table>-<run>-<n>.jsonl.gz` (one JSON object per row, 0600, written to a
temporary name, fsynced and renamed) BEFORE its rows are deleted; the delete, the archive's record (`archives`
table) and a JOURNAL_COMPACTED event commit in one transaction. A run that dies between the two leaves an
archive nobody recorded (its rows are still in the journal): the next `--apply` removes it. Re-running with
the same cutoff finds nothing more to archive.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from btcbot.adapters.lock import instance_lock
from btcbot.adapters.sqlite.compaction import RULES, ArchiveBatch, Keep
from btcbot.adapters.sqlite.store import Store, iso
from btcbot.adapters.state_dir import ensure_private_dir
from btcbot.config import Settings
from btcbot.domain.errors import ConfigError
from btcbot.services.mode import select_mode
from btcbot.services.recovery import LOOKBACK
from btcbot.services.venue import check_exchange

__all__ = ["ARCHIVE_DIR", "DEFAULT_DAYS", "MIN_DAYS", "CompactReport", "TablePlan", "compact", "run_compact"]

ARCHIVE_DIR = "archive"
DEFAULT_DAYS = 90
MIN_DAYS = LOOKBACK.days  # reconcile compares the last week; every other window of the cycle is shorter
BATCH_ROWS = 50_000  # rows per archive file (and per delete transaction)
_OURS = re.compile(r"^[a-z_]+-\d{8}T\d{6}Z-\d{3}\.jsonl\.gz$")


@dataclass(frozen=True, slots=True)
class TablePlan:
    table: str
    archive: int  # rows older than the cutoff that go to the archive
    kept: tuple[tuple[Keep, int], ...]  # rows older than the cutoff that stay, by reason
    archived: int = 0  # rows this run archived


@dataclass(slots=True)
class CompactReport:
    older_than_days: int
    cutoff: datetime
    applied: bool
    archive_dir: Path
    tables: list[TablePlan] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    removed_incomplete: list[str] = field(default_factory=list)


def run_compact(settings: Settings, days: int, apply: bool, now: datetime) -> CompactReport:
    """Under the instance lock (LockBusy → exit 75): plan, and with `apply` archive and delete."""
    if days < MIN_DAYS:
        raise ConfigError(f"--older-than {days}: must be at least {MIN_DAYS} days (reconcile still compares the "
                          f"last {MIN_DAYS} days of orders)")
    state_dir = ensure_private_dir(settings.state_dir)
    with instance_lock(state_dir):
        store = Store.open(state_dir, select_mode(settings).venue)  # (the rules are the same for every venue)
        try:
            check_exchange(store, settings.exchange, state_dir, None, record=False)  # another exchange's: exit 2
            return compact(store, state_dir / ARCHIVE_DIR, days, apply, now, settings.dedupe_bucket_seconds)
        finally:
            store.close()


def compact(store: Store, directory: Path, days: int, apply: bool, now: datetime,
            bucket_seconds: int) -> CompactReport:
    cutoff = now - timedelta(days=days)
    rules = RULES
    params = _params(store, cutoff, bucket_seconds)
    report = CompactReport(days, cutoff, apply, directory)
    for rule in rules:
        counts = store.compaction_counts(rule, params)
        kept = tuple((keep, counts[keep.reason]) for keep in rule.keeps if counts.get(keep.reason))
        report.tables.append(TablePlan(rule.table, counts.get("archive", 0), kept))
    if not apply:
        return report
    ensure_private_dir(directory)
    report.removed_incomplete = _remove_incomplete(store, directory)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    for index, rule in enumerate(rules):
        archived, after, number = 0, 0, 0
        while (batch := store.archive_batch(rule, params, after, BATCH_ROWS)).rows:
            number += 1
            path = directory / f"{rule.table}-{stamp}-{number:03d}.jsonl.gz"
            digest = _write_archive(path, batch)
            store.delete_archived(rule, params, batch, path.name, digest, now)
            report.files.append(path)
            archived, after = archived + len(batch.rows), batch.rowids[-1]
        report.tables[index] = replace(report.tables[index], archived=archived)
    return report


def _params(store: Store, cutoff: datetime, bucket_seconds: int) -> dict[str, object]:
    since = store.trading_state_since()[1]
    return {"cutoff": iso(cutoff), "state_since": iso(since) if since else None,
            "bucket_seconds": bucket_seconds, "cutoff_epoch": int(cutoff.timestamp())}


def _write_archive(path: Path, batch: ArchiveBatch) -> str:
    """Write the batch as gzipped JSON lines, durably and atomically (0600); return the file's sha256."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as out:
            for row in batch.rows:
                out.write(_line(row))
        raw.flush()
        os.fsync(raw.fileno())
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    return digest


def _line(row: dict[str, Any]) -> bytes:
    return (json.dumps(row, sort_keys=True, separators=(",", ":")) + "\n").encode()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_incomplete(store: Store, directory: Path) -> list[str]:
    """Archives (and temporary files) of a run that died before recording them: their rows are still in the
    journal, so the files are removed."""
    recorded = store.archive_files()
    removed = []
    for path in sorted(directory.iterdir()):
        if (path.name.startswith(".") and path.name.endswith(".jsonl.gz.tmp")) or (
                _OURS.match(path.name) and path.name not in recorded):
            path.unlink()
            removed.append(path.name)
    return removed
