"""The client's address behind a trusted proxy, for django-axes (production's AXES_CLIENT_IP_CALLABLE).

Behind a proxy REMOTE_ADDR is the proxy's. Each proxy appends the address it saw to
X-Forwarded-For, so only the right end of the header is ours to believe: the client is
TRUSTED_PROXY_DEPTH entries from the right, and anything further left is what it claimed.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def forwarded_client_ip(request: HttpRequest) -> str | None:
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    depth = settings.TRUSTED_PROXY_DEPTH
    if len(forwarded) >= depth:
        candidate = forwarded[-depth]
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            pass  # not what a proxy writes; axes stores the address in an inet column
    # Not through the proxies (a probe from inside the cluster): the peer is the client.
    return request.META.get("REMOTE_ADDR")
