"""Imperative shell: services use the ports and own no business rules."""
