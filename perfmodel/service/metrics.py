"""Prometheus metrics of one app, in a registry of its own (two apps in a process never mix figures).

`perfmodel_requests_total{endpoint,method,status}` and `perfmodel_request_seconds{endpoint}` per route
template; `perfmodel_cache_total{endpoint,result}` with result hit or miss; `perfmodel_jobs{state}` read
from the database at each scrape; `perfmodel_requests_in_flight` in the worker pool.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _JobsCollector:
    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self._counts = counts

    def collect(self):  # type: ignore[no-untyped-def]
        family = GaugeMetricFamily("perfmodel_jobs", "Jobs in the database by state", labels=["state"])
        for state, n in self._counts().items():
            family.add_metric([state], n)
        yield family


class Metrics:
    def __init__(self, job_counts: Callable[[], dict[str, int]], in_flight: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "perfmodel_requests", "HTTP requests", ["endpoint", "method", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "perfmodel_request_seconds",
            "Request latency",
            ["endpoint"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=self.registry,
        )
        self.cache = Counter("perfmodel_cache", "Result cache lookups", ["endpoint", "result"], registry=self.registry)
        gauge = Gauge("perfmodel_requests_in_flight", "Requests in the worker pool", registry=self.registry)
        gauge.set_function(lambda: float(in_flight()))
        self.registry.register(_JobsCollector(job_counts))

    def observe(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, method, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
