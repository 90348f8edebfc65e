"""Pure domain core: no network, no disk, no clock reads."""
