"""Every request to the viewer passes here: read-only methods, its host, its token; safe headers.

The viewer shows text from outside (model answers, payloads, tool results), so
the page must never run any of it, and the server must give nothing away to
another site:

- only GET and HEAD are served (405 otherwise): no endpoint writes, deletes or
  publishes;
- every response carries a strict Content-Security-Policy (scripts, styles and
  connections from the viewer itself only; no inline script or style, no
  frames, no forms), ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
  no-referrer``, and is kept out of caches;
- bound to loopback, a request must name a loopback host (``127.0.0.1``,
  ``localhost``, ``[::1]``): a page of another site that rebinds its own name
  to 127.0.0.1 (DNS rebinding) is refused;
- bound to any other address, every request must carry the token printed at
  start: ``?token=`` once (answered with a cookie, and a redirect to the same
  URL without it), then the cookie; or an ``Authorization: Bearer`` header.
  Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

__all__ = ["COOKIE", "CSP", "Guard", "loopback_hosts"]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""The Content-Security-Policy of every response."""

COOKIE = "actorbus_viewer_token"
"""The cookie that carries the token after the first request."""

_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]
_READ = ("GET", "HEAD")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def loopback_hosts() -> frozenset[str]:
    """Return the host names a request to a loopback-bound viewer may use."""
    return frozenset(("127.0.0.1", "localhost", "::1", "[::1]"))


class Guard:
    """ASGI middleware enforcing the rules of the module docs.

    Args:
        app: the viewer's app.
        token: the token every request must carry; None on loopback.
        hosts: the host names a request may name; None for any (with a token).
    """

    def __init__(self, app: App, *, token: str | None, hosts: frozenset[str] | None) -> None:
        self._app = app
        self._token = token.encode() if token is not None else None
        self._hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan
            await self._app(scope, receive, send)
            return
        if scope["method"] not in _READ:
            await _answer(
                send, 405, "the viewer only reads: GET and HEAD", [(b"allow", b"GET, HEAD")]
            )
            return
        headers = _headers(scope)
        if self._hosts is not None and _host_name(headers.get("host", "")) not in self._hosts:
            await _answer(send, 403, "this viewer answers requests to a loopback address only")
            return
        if self._token is not None:
            passed = await self._check_token(scope, send, headers)
            if not passed:
                return
        await self._app(scope, receive, _with_headers(send))

    async def _check_token(self, scope: Scope, send: Send, headers: dict[str, str]) -> bool:
        assert self._token is not None
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        given = [value for name, value in query if name == "token"]
        if given:
            if not self._same(given[-1]):
                await _answer(send, 401, "wrong token: use the URL the viewer printed at start")
                return False
            rest = urlencode([(name, value) for name, value in query if name != "token"])
            where = scope.get("path", "/") + (f"?{rest}" if rest else "")
            cookie = f"{COOKIE}={given[-1]}; HttpOnly; SameSite=Strict; Path=/"
            await _answer(
                send, 303, "", [(b"location", where.encode()), (b"set-cookie", cookie.encode())]
            )
            return False
        bearer = headers.get("authorization", "")
        if bearer.startswith("Bearer ") and self._same(bearer[len("Bearer ") :]):
            return True
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(headers.get("cookie", ""))
        except Exception:  # a malformed cookie header is no token
            jar = SimpleCookie()
        morsel = jar.get(COOKIE)
        if morsel is not None and self._same(morsel.value):
            return True
        await _answer(send, 401, "this viewer needs its token: open the URL it printed at start")
        return False

    def _same(self, given: str) -> bool:
        assert self._token is not None
        return hmac.compare_digest(given.encode(), self._token)


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _host_name(host: str) -> str:
    # "name:port", "[::1]:port" or "name": the name (an IPv6 address in brackets).
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _with_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            present = {name for name, _ in message.get("headers", [])}
            extra = [(name, value) for name, value in _HEADERS if name not in present]
            message["headers"] = [*message.get("headers", []), *extra]
        await send(message)

    return sending


async def _answer(
    send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = text.encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        *_HEADERS,
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
