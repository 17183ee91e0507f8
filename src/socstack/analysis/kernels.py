"""The kernel manager of socstack's JupyterLab: each kernel runs as the user who started it.

Loaded inside the JupyterLab child of ``socstack up`` or ``socstack serve notebook``
(``--ServerApp.kernel_manager_class``). The proxy,
serving a signed-in user's request that may start a kernel, leaves that user's
credential in :func:`~socstack.analysis.lab.credential_path` (mode 0600) for the time of
the request; a kernel started then gets it as ``SOC_TOKEN``, which
``socstack.client.Client()`` sends when given no token. A restart keeps the kernel's
environment, so it keeps its user. Without a credential the kernel has no token (it
sees what is public), never someone else's.
"""

from __future__ import annotations

import os
from typing import Any

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager

from socstack.analysis.lab import credential_path
from socstack.config import get_settings

__all__ = ["SignedInKernelManager"]

_WITHHELD = ("JUPYTER_TOKEN", "SOC_TOKEN", "SOC_ADMIN_TOKEN")


class SignedInKernelManager(AsyncMappingKernelManager):  # type: ignore[misc]
    """Start kernels with the requesting user's token and without the server's."""

    async def start_kernel(self, *args: Any, **kwargs: Any) -> str:
        """Start a kernel whose environment carries the signed-in user's token."""
        env = {k: v for k, v in (kwargs.get("env") or os.environ).items() if k not in _WITHHELD}
        path = credential_path(get_settings())
        try:
            credential = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            credential = ""
        if credential:
            env["SOC_TOKEN"] = credential
        kwargs["env"] = env
        return await super().start_kernel(*args, **kwargs)  # type: ignore[no-any-return]
