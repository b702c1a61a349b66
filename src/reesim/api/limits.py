"""The request-body limit, counted on the bytes that arrive (``Content-Length`` or chunked).

A check of the ``Content-Length`` header alone lets a chunked body (``Transfer-Encoding:
chunked``, no length) through in full: a 60 MB chunked body raised the server's peak memory by
175 MB before this middleware. :class:`BodyLimit` is plain ASGI: it answers 413 at once when the
declared length is too large, and otherwise counts the body's bytes as the application reads
them, stopping the read at the limit and answering 413 in place of whatever the application
would have said about the truncated body.
"""

from __future__ import annotations

import json
from typing import Any

Scope = dict[str, Any]


class BodyTooLarge(Exception):
    """Raised inside ``receive`` when the body passes the limit (caught by :class:`BodyLimit`)."""


class BodyLimit:
    """ASGI middleware: at most ``limit`` bytes of request body, else HTTP 413."""

    def __init__(self, app, limit: int) -> None:
        self.app, self.limit = app, int(limit)

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._reject(send, f"request body of {int(declared)} bytes")
            return
        state = {"seen": 0, "over": False, "started": False}

        async def counted_receive():
            message = await receive()
            if message["type"] == "http.request":
                state["seen"] += len(message.get("body", b""))
                if state["seen"] > self.limit:
                    state["over"] = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message):
            if state["over"]:
                return  # the application's answer to a cut body is replaced by the 413 below
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except BodyTooLarge:
            pass
        except Exception:
            if not state["over"]:
                raise
        if state["over"] and not state["started"]:
            await self._reject(send, f"request body of more than {self.limit} bytes (sent in chunks)")

    async def _reject(self, send, what: str) -> None:
        body = json.dumps({"detail": f"{what}; allowed: at most {self.limit}"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body})
