"""The monthly cost of a placement, from what the deployment measured and a price table.

Why: "the cloud is not the panacea" is a number to know before a service moves, not
after. Each movable service (the ones ``k8s/components/cloud`` can place) is priced
where it runs, on-premises or in the cloud, from its own use:

- a web service (``hapi``, ``api``, ``viz``, ``analysis``): its process's CPU seconds,
  shared among the services that process serves by the time each spent on requests,
  and the bytes it sent, both as rates since the process started (:mod:`socstack.usage`);
- a worker (``worker`` for ``processing.any``, ``mining``): the seconds its queue's
  jobs ran over the last day;
- in the cloud, what a web service sends also crosses from the archive on-premises
  (priced per GB between the sites); what a cloud worker reads and writes is not
  measured yet and is left out (the estimate says so).

The rates are scaled to a month of ``hours_per_month``. The archive's storage stays where
it is whatever the placement; it is reported beside the services.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from prometheus_client.parser import text_string_to_metric_families
from pydantic import Field, ValidationError

from socstack._exceptions import ConfigError
from socstack.mission._base import StrictModel

__all__ = [
    "MOVABLE",
    "WEB",
    "WORKERS",
    "Estimate",
    "Measured",
    "Prices",
    "estimate",
    "load_prices",
    "measured",
]

#: Web services, by the name their meter counts them under.
WEB = ("hapi", "api", "viz", "analysis")
#: Workers that can move, by the queue whose jobs they run.
WORKERS = {"worker": "processing.any", "mining": "mining"}
#: What a placement can move (one ``k8s/components/cloud`` component each).
MOVABLE = (*WEB, *WORKERS)
_GB = 1e9
Site = Literal["onprem", "cloud"]


class SitePrices(StrictModel):
    """What one site charges."""

    core_hour: float = Field(ge=0, description="Per core-hour of CPU.")
    gb_out: float = Field(0.0, ge=0, description="Per GB sent to clients.")
    gb_month: float = Field(0.0, ge=0, description="Per GB stored for a month.")


class Prices(StrictModel):
    """The operator's price table (YAML)."""

    currency: str = "USD"
    hours_per_month: float = Field(730.0, gt=0)
    between_sites_gb: float = Field(
        0.0, ge=0, description="Per GB crossing between on-premises and the cloud."
    )
    onprem: SitePrices
    cloud: SitePrices


def load_prices(path: Path) -> Prices:
    """The price table at ``path``; a ConfigError says what is wrong with it."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the price table: {exc}") from None
    try:
        return Prices.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "the table"
        raise ConfigError(f"{path}: {where}: {error['msg']}") from None


@dataclass(frozen=True)
class Measured:
    """One service's use per month."""

    core_hours: float
    gb_out: float


def _samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    try:
        return [
            (sample.name, dict(sample.labels), float(sample.value))
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        ]
    except ValueError as exc:
        raise ConfigError(f"not Prometheus metrics: {exc}") from None


def measured(sources: Iterable[tuple[str, float]], hours_per_month: float) -> dict[str, Measured]:
    """Each service's monthly use, from metrics texts each read at a time (seconds since 1970).

    Each text is one process's ``/metrics`` (``socstack up`` serves every web service from
    one; a cluster has one per pod). A web service measured in several adds up; the jobs'
    seconds are the catalog's, the same in every text, so they are taken once.
    """
    month = hours_per_month * 3600.0
    cores: dict[str, float] = {}
    sent: dict[str, float] = {}
    jobs: dict[str, float] = {}
    for text, read_at in sources:
        samples = _samples(text)
        start = next((v for n, _, v in samples if n == "socstack_process_start_time_seconds"), None)
        cpu = next((v for n, _, v in samples if n == "socstack_process_cpu_seconds_total"), 0.0)
        busy = {
            labels["service"]: value
            for name, labels, value in samples
            if name == "socstack_http_busy_seconds_total"
        }
        if start is not None and read_at > start and busy:
            scale = month / (read_at - start)
            total = sum(busy.values()) or 1.0
            for service, seconds in busy.items():
                cores[service] = cores.get(service, 0.0) + cpu * seconds / total * scale / 3600
            for name, labels, value in samples:
                if name == "socstack_http_sent_bytes_total":
                    service = labels["service"]
                    sent[service] = sent.get(service, 0.0) + value * scale / _GB
        for name, labels, value in samples:
            if name == "socstack_job_run_seconds_day":
                jobs[labels["queue"]] = value  # the catalog's: the same in every text
    out = {s: Measured(cores.get(s, 0.0), sent.get(s, 0.0)) for s in WEB}
    for service, queue in WORKERS.items():
        out[service] = Measured(jobs.get(queue, 0.0) * month / 86_400 / 3600, 0.0)
    return out


def archive_gb(texts: Iterable[str]) -> float:
    """What the archive stores (GB), from the first text that says."""
    for text in texts:
        sizes = [v for n, _, v in _samples(text) if n == "socstack_archive_bytes"]
        if sizes:
            return sum(sizes) / _GB
    return 0.0


@dataclass(frozen=True)
class Estimate:
    """One service's monthly cost at each site, and where the placement puts it."""

    service: str
    site: Site
    use: Measured
    onprem: float
    cloud: float

    @property
    def cost(self) -> float:
        """What it costs where the placement puts it."""
        return self.cloud if self.site == "cloud" else self.onprem


def _cost(prices: Prices, site: Site, service: str, use: Measured) -> float:
    rates = prices.cloud if site == "cloud" else prices.onprem
    cost = use.core_hours * rates.core_hour + use.gb_out * rates.gb_out
    if site == "cloud" and service in WEB:  # what it sends comes from the archive on-prem
        cost += use.gb_out * prices.between_sites_gb
    return cost


def estimate(use: dict[str, Measured], prices: Prices, cloud: Iterable[str]) -> list[Estimate]:
    """Every movable service priced at both sites, placed on-premises unless in ``cloud``."""
    moved = set(cloud)
    unknown = sorted(moved - set(MOVABLE))
    if unknown:
        raise ConfigError(
            f"cannot place {', '.join(unknown)} in the cloud; movable: {', '.join(MOVABLE)}"
        )
    return [
        Estimate(
            service,
            "cloud" if service in moved else "onprem",
            use[service],
            _cost(prices, "onprem", service, use[service]),
            _cost(prices, "cloud", service, use[service]),
        )
        for service in MOVABLE
    ]


def now() -> float:
    """Seconds since 1970 (when a metrics text read from a server was read)."""
    return dt.datetime.now(dt.UTC).timestamp()
