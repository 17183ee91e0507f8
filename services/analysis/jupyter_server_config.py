"""JupyterLab in the analysis image: served at /notebook behind the ingress.

The token comes from ``JUPYTER_TOKEN`` at run time (Compose requires it, Kubernetes
reads it from a Secret); nothing secret is baked into the image. Notebooks live on the
data volume (``/data/notebooks``) so they outlive the container.
"""

import os

c = get_config()  # type: ignore[name-defined]  # noqa: F821 - provided by Jupyter

c.ServerApp.ip = "0.0.0.0"  # noqa: S104 - inside its container, behind the ingress
c.ServerApp.port = 8888
c.ServerApp.base_url = "/notebook/"
c.ServerApp.open_browser = False
c.ServerApp.allow_remote_access = True
c.ServerApp.trust_xheaders = True
c.ServerApp.root_dir = os.path.join(os.environ.get("SOC_DATA_DIR", "/data"), "notebooks")
c.ServerApp.preferred_dir = c.ServerApp.root_dir
os.makedirs(c.ServerApp.root_dir, exist_ok=True)
