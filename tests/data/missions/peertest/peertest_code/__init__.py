"""Rules of the harvest test mission."""
