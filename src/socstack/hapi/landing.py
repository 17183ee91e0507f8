"""The HTML landing page of ``/hapi``: every dataset with its coverage and example links.

Everything shown comes from configuration and the catalog, and is escaped all the same.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from socstack.hapi.metadata import Coverage, HapiDataset, iso
from socstack.hapi.status import HAPI_VERSION

__all__ = ["landing_page"]


def landing_page(base: str, datasets: list[tuple[HapiDataset, Coverage]]) -> str:
    """The landing page for the server at ``base`` (its ``/hapi`` URL)."""
    rows = []
    for dataset, coverage in datasets:
        info = f"{base}/info?" + urlencode({"dataset": dataset.id})
        sample = f"{base}/data?" + urlencode(
            {
                "dataset": dataset.id,
                "start": iso(coverage.sample_start),
                "stop": iso(coverage.sample_stop),
            }
        )
        rows.append(
            "<tr>"
            f"<td><code>{escape(dataset.id)}</code></td>"
            f"<td>{escape(dataset.title)}</td>"
            f"<td>{escape(iso(coverage.start))} to {escape(iso(coverage.stop))}</td>"
            f'<td><a href="{escape(info)}">info</a> · '
            f'<a href="{escape(sample)}">sample data</a></td>'
            "</tr>"
        )
    table = "\n".join(rows) or '<tr><td colspan="4">No datasets hold data yet.</td></tr>'
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>socstack HAPI server</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}</style></head>
<body>
<h1>socstack HAPI server</h1>
<p>This server implements the <a href="https://github.com/hapi-server/data-specification">Heliophysics
API</a>, version {escape(HAPI_VERSION)}. Endpoints:
<a href="{escape(base)}/about">about</a>, <a href="{escape(base)}/capabilities">capabilities</a>,
<a href="{escape(base)}/catalog">catalog</a>, <code>info</code> and <code>data</code>.</p>
<table>
<tr><th>dataset</th><th>title</th><th>coverage</th><th>links</th></tr>
{table}
</table>
</body>
</html>
"""
