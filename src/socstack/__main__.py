"""``python -m socstack`` runs the CLI."""

from socstack.cli import main

main()
