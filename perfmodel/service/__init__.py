"""`perfmodel serve`: the library over HTTP, for program factories, CI and notebooks on other machines.

Modules: `app` (FastAPI routes, errors, auth, limits), `models` (pydantic bodies), `work` (what the worker
processes run), `pool` (the request worker pool), `jobs` (job kinds, job processes, progress), `kinds` (the
shipped job kinds), `store` (SQLite: cache, jobs, artifacts), `keys` (canonical cache keys), `metrics`
(Prometheus), `client` (`perfmodel.client.Client`). The service sits on top of the library: nothing in the
library imports it.
"""
