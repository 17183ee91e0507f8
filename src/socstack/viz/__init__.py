"""The visualization service: a Dash app that plots any HAPI server's data (``/viz``)."""
