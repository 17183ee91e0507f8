"""Mining beside the data: detectors, similarity search and event lists.

Detectors run as mission rules on the ``mining`` queue (:mod:`socstack.mining.rules`);
similarity search runs on demand; both make :class:`~socstack.mining.events.EventList`
products served back over HAPI as interval datasets.
"""

from socstack.mining.events import Event, EventList, EventListError

__all__ = ["Event", "EventList", "EventListError"]
