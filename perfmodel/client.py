"""`perfmodel.client.Client`: the library's functions answered by a `perfmodel serve` over HTTP."""

from perfmodel.service.client import Client, Job, ServiceError

__all__ = ["Client", "Job", "ServiceError"]
