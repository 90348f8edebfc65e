"""`btcbot compact`: flags → settings → one service call → render (R-STATE-5)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from btcbot.cli.common import ConfigOpt, JsonOpt, StateDirOpt, echo_json, guarded, settings_from

__all__ = ["register"]

OlderThanOpt = Annotated[int, typer.Option("--older-than", metavar="DAYS",
                                           help="Archive rows older than this many days (at least 7).")]
ApplyOpt = Annotated[bool, typer.Option("--apply", help="Archive and delete (default: only show the plan).")]


@guarded
def compact(config: ConfigOpt = None, state_dir: StateDirOpt = None, older_than: OlderThanOpt = 90,
            apply: ApplyOpt = False, as_json: JsonOpt = False) -> None:
    """Archive old journal rows nothing needs any more (events, old balance snapshots, expired dedupe and
    idempotency keys, idle cycles) to <state dir>/archive/*.jsonl.gz, then delete them. Shows the plan
    unless --apply; says what it keeps and why. Orders, fills and positions are never archived.

    Exit 0 (preview or done), 2 for a bad --older-than, 75 when another btcbot process holds the lock."""
    from datetime import UTC, datetime

    from btcbot.services.compaction import run_compact

    settings = settings_from(config, state_dir)
    report = run_compact(settings, older_than, apply, datetime.now(UTC))
    if as_json:
        echo_json(compact_json(report))
    else:
        _render(compact_json(report))


def compact_json(report: Any) -> dict[str, Any]:
    from btcbot.adapters.sqlite.compaction import NEVER

    return {
        "older_than_days": report.older_than_days, "cutoff": report.cutoff.isoformat(), "applied": report.applied,
        "archive_dir": str(report.archive_dir),
        "tables": [{"table": t.table, "archive": t.archive, "archived": t.archived,
                    "kept": [{"reason": k.reason, "rows": n, "why": k.why} for k, n in t.kept]}
                   for t in report.tables],
        "never_archived": [{"table": table, "why": why} for table, why in NEVER.items()],
        "files": [str(p) for p in report.files], "removed_incomplete": report.removed_incomplete,
    }


def _render(data: dict[str, Any]) -> None:
    verb = "archived" if data["applied"] else "would archive (preview: nothing changed; --apply does it)"
    typer.echo(f"compact: rows older than {data['older_than_days']} days (before {data['cutoff']}): {verb}")
    for t in data["tables"]:
        count = t["archived"] if data["applied"] else t["archive"]
        typer.echo(f"  {t['table']:<17} {count:>10,} rows")
        for k in t["kept"]:
            typer.echo(f"  {'':<17} {k['rows']:>10,} kept: {k['why']}")
    typer.echo("  never archived:")
    for never in data["never_archived"]:
        typer.echo(f"  {never['table']:<19} {never['why']}")
    if data["removed_incomplete"]:
        typer.echo(f"  removed {len(data['removed_incomplete'])} unrecorded archive(s) of an interrupted run")
    if data["applied"]:
        typer.echo(f"  {len(data['files'])} archive file(s) in {data['archive_dir']}")


def register(app: typer.Typer) -> None:
    app.command("compact")(compact)
