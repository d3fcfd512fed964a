"""Fetching another region's status list credential over HTTP(S), bounded in time and size.

Pure Python (``http.client``, no Django): the node's status lookup (``services.status``) calls
``fetch_status_list_credential`` only for URLs whose origin the credential's region declares in
its trust list, and checks what comes back (signature, region, GZIP bound) itself.

Bounds: a connect/read timeout per socket operation and an overall deadline (a server trickling
bytes cannot hold a worker), at most ``MAX_RESPONSE_BYTES`` read (``Content-Length`` over it is
refused before reading), no redirects, no content encodings (``Accept-Encoding: identity``: the
only compression is the list's own GZIP, which is inflated under a cap), no proxies, and a body
that must be one ASCII compact JWS. Every failure raises ``CredentialError`` with code
``status_unavailable`` and the reason.
"""

from __future__ import annotations

import http.client
import ssl
import time
from urllib.parse import urlsplit

from tongban.credentials.keys import CredentialError
from tongban.credentials.trustlist import url_origin
from tongban.credentials.verify import MAX_STATUS_LIST_JWT

#: Seconds for connecting and for each read; and for the whole exchange.
TIMEOUT = 3.0
DEADLINE = 5.0
MAX_RESPONSE_BYTES = MAX_STATUS_LIST_JWT
MAX_URL_LENGTH = 500
USER_AGENT = "tongban-status-fetch/1"


def _fail(detail: str) -> CredentialError:
    return CredentialError("status_unavailable", detail)


def fetch_status_list_credential(
    url: str,
    *,
    allowed_origins: tuple[str, ...] | list[str],
    timeout: float | None = None,
    deadline: float | None = None,
    max_bytes: int | None = None,
) -> str:
    """The body (a VC-JWT) served at ``url``, whose origin must be one of ``allowed_origins``.

    ``timeout``, ``deadline`` and ``max_bytes`` default to the module's ``TIMEOUT``, ``DEADLINE``
    and ``MAX_RESPONSE_BYTES``, read at call time.
    """
    timeout = TIMEOUT if timeout is None else timeout
    deadline = DEADLINE if deadline is None else deadline
    max_bytes = MAX_RESPONSE_BYTES if max_bytes is None else max_bytes
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH:
        raise _fail(f"the status list URL is not a string of at most {MAX_URL_LENGTH} characters")
    origin = url_origin(url)
    if origin is None:
        raise _fail(f"{url} is not an http(s) URL")
    if origin not in allowed_origins:
        raise _fail(f"{origin} is not a status origin its region declares")
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host, port = parts.hostname or "", parts.port
    started = time.monotonic()
    if parts.scheme.lower() == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={
            "Accept": "application/vc+jwt, application/jwt;q=0.9", "Accept-Encoding": "identity",
            "User-Agent": USER_AGENT, "Connection": "close"})
        response = connection.getresponse()
        if response.status != 200:
            raise _fail(f"the server answered HTTP {response.status}")
        encoding = (response.getheader("Content-Encoding") or "identity").strip().lower()
        if encoding != "identity":
            raise _fail(f"the server answered with Content-Encoding {encoding}")
        length = response.getheader("Content-Length")
        if length is not None and (not length.strip().isdigit() or int(length) > max_bytes):
            raise _fail(f"the server answered {length} bytes, over the {max_bytes} bytes allowed")
        body = bytearray()
        while True:
            if time.monotonic() - started > deadline:
                raise _fail(f"the server took over {deadline:g} s")
            chunk = response.read1(65536)
            if not chunk:
                break
            body += chunk
            if len(body) > max_bytes:
                raise _fail(f"the server answered over the {max_bytes} bytes allowed")
    except CredentialError:
        raise
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise _fail(f"{type(exc).__name__}: {exc}") from None
    finally:
        connection.close()
    try:
        text = bytes(body).decode("ascii").strip()
    except UnicodeDecodeError:
        raise _fail("the server did not answer a compact JWS (not ASCII)") from None
    if text.count(".") != 2:
        raise _fail("the server did not answer a compact JWS")
    return text
