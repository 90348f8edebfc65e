"""Where a run's orders go (R-SAFE-1): the venue, live or dry-run, and which arming gate is missing. Kept light:
`status` and `doctor` need it without the cycle's machinery."""

from __future__ import annotations

from dataclasses import dataclass

from btcbot.config import Settings

__all__ = ["Mode", "select_mode"]


@dataclass(frozen=True, slots=True)
class Mode:
    """Where orders go. `live` means real orders on the venue; otherwise they are recorded as dry-run."""

    venue: str  # "sim", "paper" or "btcturk"
    live: bool
    missing_gates: tuple[str, ...]
    submits_blocked: str | None = None  # e.g. GATE_KILL_SWITCH: live venue, cancels only

    @property
    def label(self) -> str:
        if not self.live:
            return "dry-run"
        return "live (cancel-only)" if self.submits_blocked else "live"


def select_mode(settings: Settings) -> Mode:
    """R-SAFE-1: live only when every gate holds. With only the kill switch on, a live venue still gets
    cancels (the kill switch blocks new submits); any other missing gate means dry-run."""
    missing = tuple(settings.missing_live_gates())
    only_kill_switch = bool(missing) and all(m.startswith("BTCBOT_KILL_SWITCH") for m in missing)
    live_venue = "btcturk" if settings.exchange == "btcturk" else "sim"
    if not missing:
        return Mode(live_venue, True, ())
    if only_kill_switch:
        return Mode(live_venue, True, missing, submits_blocked="GATE_KILL_SWITCH")
    return Mode("sim" if settings.exchange == "sim" else "paper", False, missing)
