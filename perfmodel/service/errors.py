"""Errors the service answers with: a status, the request field at fault and a one-line reason.

`FieldError` is raised where the field is known (in the server or in a worker process); the app turns it,
and every other `ApiError`, into `{"detail": reason, "field": field}` with the status. Messages of the
library's `InputError` pass through unchanged, so a client reads what the command line prints.
"""

from __future__ import annotations

from typing import Any

from perfmodel.errors import InputError


class ApiError(Exception):
    """An answer other than success: HTTP `status`, `detail` for people, `field` naming the culprit."""

    def __init__(
        self, status: int, detail: str, field: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"detail": self.detail, "field": self.field}


class FieldError(InputError):
    """An `InputError` that knows which request field it is about (pickles across processes)."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field

    def __reduce__(self) -> tuple[Any, ...]:
        return (FieldError, (self.field, str(self)))
