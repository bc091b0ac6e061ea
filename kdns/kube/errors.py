"""API errors as a tree keyed by HTTP status, as kopf's ``clients/errors.py`` does.

The API server answers failures with a ``Status`` object. Only its message is kept, and truncated,
so that a misbehaving server (or a proxy in front of it) cannot pour object data into our logs.
Callers catch the family they can act on: ``Unauthorized`` reloads credentials, ``Forbidden``
logs an RBAC hint, ``Gone`` relists; everything else is retried with backoff.
"""

from __future__ import annotations

import json
from typing import Any

from kdns import errors

#: Longest Status message kept on an error; the rest is cut and marked with an ellipsis.
MAX_MESSAGE = 300


class KubeError(errors.KdnsError):
    """A failure talking to the Kubernetes API."""


class StreamStalled(KubeError):
    """A watch stream delivered neither events nor bookmarks within the inactivity timeout."""


class APIError(KubeError):
    """The API server answered with an error status."""

    def __init__(
        self, message: str = "", *, status: int, reason: str = "", causes: tuple[str, ...] = ()
    ) -> None:
        self.status = status
        self.reason = reason
        self.message = _truncate(message)
        #: The ``reason`` of each ``details.causes`` entry of the Status.
        self.causes = causes
        super().__init__(
            f"{status} {reason or 'Error'}: {self.message}" if self.message else str(status)
        )


class APIClientError(APIError):
    """A 4xx answer."""


class APIServerError(APIError):
    """A 5xx answer."""


class BadRequest(APIClientError):
    """400: for us usually an unsupported field or label selector."""


class Unauthorized(APIClientError):
    """401: the credentials were refused; reload them (the token may have rotated)."""


class Forbidden(APIClientError):
    """403: RBAC does not allow the request."""


class NotFound(APIClientError):
    """404: the resource type is not served (for example an old cluster without EndpointSlices)."""


class Gone(APIClientError):
    """410: the resourceVersion (or continue token) is older than the server's history; relist."""


class TooManyRequests(APIClientError):
    """429: priority and fairness throttled us; retry later."""


def is_too_large_resource_version(err: APIError) -> bool:
    """The server has not reached the revision we asked for, as client-go's reflector tests it.

    A watch cache answers 504 ``Timeout`` with the ``ResourceVersionTooLarge`` cause (servers
    before 1.17 only put "Too large resource version" in the message). After an etcd restore
    the revision went backwards and may never reach ours: only a fresh list recovers.
    """
    if "ResourceVersionTooLarge" in err.causes:
        return True
    return err.reason == "Timeout" and "Too large resource version" in err.message


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    410: Gone,
    429: TooManyRequests,
}


def _truncate(message: str) -> str:
    message = " ".join(message.split())
    if len(message) > MAX_MESSAGE:
        return message[: MAX_MESSAGE - 1] + "…"
    return message


def from_status(status: int, payload: Any) -> APIError:
    """Build the error for an HTTP ``status`` and a decoded body (a Status object or anything else).

    :param status: the HTTP status code, or the ``code`` of a watch ``ERROR`` event's Status.
    :param payload: the decoded JSON body; only a ``kind: Status`` body contributes its message.
    """
    message, reason = "", ""
    causes: tuple[str, ...] = ()
    if isinstance(payload, dict) and payload.get("kind") == "Status":
        message = str(payload.get("message") or "")
        reason = str(payload.get("reason") or "")
        details = payload.get("details")
        listed = details.get("causes") if isinstance(details, dict) else None
        if isinstance(listed, list):
            causes = tuple(str(c.get("reason") or "") for c in listed[:8] if isinstance(c, dict))
        code = payload.get("code")
        if isinstance(code, int) and code >= 400:
            status = code
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = APIServerError if status >= 500 else APIClientError if status >= 400 else APIError
    return cls(message, status=status, reason=reason, causes=causes)


def from_body(status: int, body: bytes) -> APIError:
    """Like :func:`from_status`, decoding ``body`` leniently (non-JSON bodies give no message)."""
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    return from_status(status, payload)
