"""Where Steward may send requests: the check against server-side request forgery.

Steward posts to addresses other people give it (a recipient's webhook URL, a browser's push
endpoint). Without a check, whoever sets such an address could make the server call into the
ICT service's own network. An address must be https and resolve only to public addresses,
unless its host is in `OUTBOUND_ALLOWED_PRIVATE` (hosts or networks the processor has approved,
e.g. an LA system on its private network); the check runs when the address is recorded and
again before each request, since DNS can change in between.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


def _allowed_private(host: str, addresses: set[str]) -> bool:
    for entry in settings.OUTBOUND_ALLOWED_PRIVATE:
        if entry == host:
            return True
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            continue
        if addresses and all(ipaddress.ip_address(a) in network for a in addresses):
            return True
    return False


def outbound_refusal(url: str) -> str:
    """Why Steward will not send to this URL ("" if it may)."""
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in {"https", "http"} or not host:
        return "the address must be an https URL"
    try:
        addresses = {str(info[4][0]).split("%")[0] for info in socket.getaddrinfo(host, parts.port or 443)}
    except (socket.gaierror, UnicodeError):
        return f"the host {host} does not resolve"
    if _allowed_private(host, addresses):
        return ""
    if parts.scheme != "https":
        return "the address must be an https URL"
    if any(not ipaddress.ip_address(a).is_global for a in addresses):
        return f"{host} is a private, loopback or link-local address"
    return ""
