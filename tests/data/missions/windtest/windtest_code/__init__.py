"""Rules of the windtest mission: each writes down which files it was given."""
