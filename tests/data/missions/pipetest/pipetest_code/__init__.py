"""Rules of the pipeline test mission."""
