"""``python -m socstack.cli`` runs the CLI."""

from socstack.cli import main

main()
