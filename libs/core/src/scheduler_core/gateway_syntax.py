"""The syntax of what an operator says about the gateway in front of the API (settings) and of what that gateway
says about each request (headers): path prefixes, trusted proxy addresses, browser origins. Checked here once, so
that the settings refuse a bad value at start-up and the API ignores a bad header, with the same rules."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Final
from urllib.parse import urlsplit

# One path segment of a prefix: RFC 3986's pchar, percent-encoded octets included. Nothing that could make the
# dashboard's <base href> leave the origin (no "//", no scheme, no backslash, no quotes or angle brackets).
_SEGMENT: Final = re.compile(r"(?:[A-Za-z0-9._~!$&()*+,;=:@-]|%[0-9A-Fa-f]{2})+")
TRUST_EVERYONE: Final = "*"
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


def path_prefix(value: str) -> str:
    """A path prefix such as "/scheduler" or "/tools/scheduler", without its trailing slash; "" for the root
    ("" or "/"). Raises ValueError, saying why, for anything else."""
    prefix = value.strip()
    if prefix in ("", "/"):
        return ""
    if not prefix.startswith("/") or prefix.startswith("//"):
        raise ValueError(f"{value!r} is not a path prefix: it must start with a single '/' (e.g. /scheduler)")
    segments = prefix.removesuffix("/")[1:].split("/")
    for segment in segments:
        if segment in (".", "..") or not _SEGMENT.fullmatch(segment):
            raise ValueError(
                f"{value!r} is not a path prefix: segment {segment!r} is empty, a dot segment or has characters "
                "a URL path cannot hold unescaped"
            )
    return "/" + "/".join(segments)


def trusted_proxy(entry: str) -> str:
    """An entry of the proxy trust list: an IP address, a network in CIDR notation, or "*" (every peer).
    Raises ValueError for anything else (uvicorn would silently treat it as a host name that never matches)."""
    entry = entry.strip()
    if entry == TRUST_EVERYONE:
        return entry
    try:
        ipaddress.ip_network(entry, strict=True)
    except ValueError as exc:
        raise ValueError(f"{entry!r} is neither an IP address nor a network in CIDR notation ({exc})") from None
    return entry


def origin(value: str) -> str:
    """A browser origin as browsers send it in the Origin header: scheme://host[:port], lower case, the default
    port left out ("https://App.example.com:443/" -> "https://app.example.com"). "*" and anything with a path,
    query or credentials are refused: CORS compares origins as exact strings."""
    text = value.strip()
    if text == TRUST_EVERYONE:
        raise ValueError("'*' is not allowed: list the origins of the browser apps that call the API")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an origin: {exc}") from None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"{value!r} is not an origin: it must be http(s)://host[:port]")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{value!r} is not an origin: no path, query or credentials (scheme://host[:port] only)")
    host = parts.hostname  # lower-cased by urlsplit
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + ("" if port in (None, _DEFAULT_PORTS[parts.scheme]) else f":{port}")


def listed(value: object) -> object:
    """A list setting from the environment: a JSON list, or comma-separated (the form of uvicorn's
    --forwarded-allow-ips). Other values (a list given in code) pass through to the field's validation."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            parsed: object = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a JSON list ({exc}); or give the entries comma-separated") from None
        return parsed
    return [item.strip() for item in text.split(",") if item.strip()]
