"""One router per resource of the data-center API."""
