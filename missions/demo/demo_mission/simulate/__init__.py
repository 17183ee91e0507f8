"""The simulated spacecraft: solar wind truth, instrument response, telemetry packets."""

from demo_mission.simulate.spacecraft import generate

__all__ = ["generate"]
