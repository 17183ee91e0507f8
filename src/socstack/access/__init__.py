"""Access: identities and tokens, release policy and records, the one authorization function.

Every door (HAPI, the files API, upload, jobs, the viz, the event log, metrics) asks
:meth:`Access.authorize` whether an identity may see or do something, for a product and
a time range; see :mod:`socstack.access.service` for the rule and docs/access.md for
how it is used.
"""

from socstack.access.identity import ANONYMOUS, SCOPES, SYSTEM, Identity
from socstack.access.service import Access, Action, Decision

__all__ = ["ANONYMOUS", "SCOPES", "SYSTEM", "Access", "Action", "Decision", "Identity"]
