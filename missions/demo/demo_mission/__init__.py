"""The socstack demo mission: a simulated spacecraft with a magnetometer and a plasma analyzer.

Like IMAP's ``imap_processing``, the mission's code is one package with a folder per
instrument and a module per level; the simulator makes the telemetry those modules
decode. The core knows none of this: it finds the code through the entry points in
``mission.yaml``.
"""
