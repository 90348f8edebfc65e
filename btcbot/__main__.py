"""`python -m btcbot`."""

from btcbot.cli import main

main()
