"""The client's address behind a trusted proxy: the right end of X-Forwarded-For, never the left."""

import pytest
from django.test import RequestFactory

from shop.proxy import forwarded_client_ip

PROXY = "10.0.0.2"


def request_from_proxy(forwarded_for: str | None):
    headers = {"HTTP_X_FORWARDED_FOR": forwarded_for} if forwarded_for is not None else {}
    return RequestFactory().get("/admin/login/", REMOTE_ADDR=PROXY, **headers)


@pytest.mark.parametrize(
    ("depth", "forwarded_for", "client"),
    [
        (1, "203.0.113.7", "203.0.113.7"),  # nginx: appends the peer it saw
        (1, "1.2.3.4, 203.0.113.7", "203.0.113.7"),  # what the client sent is ignored
        (2, "1.2.3.4, 203.0.113.7, 35.191.0.1", "203.0.113.7"),  # Google's load balancer: client, then itself
        (1, " 2001:db8::1 ", "2001:db8::1"),
    ],
)
def test_the_client_is_as_many_entries_from_the_right_as_the_proxies_append(settings, depth, forwarded_for, client):
    settings.TRUSTED_PROXY_DEPTH = depth

    assert forwarded_client_ip(request_from_proxy(forwarded_for)) == client


@pytest.mark.parametrize("forwarded_for", [None, "", "not-an-address", "203.0.113.7:443"])
def test_without_a_usable_forwarded_address_the_peer_is_the_client(settings, forwarded_for):
    settings.TRUSTED_PROXY_DEPTH = 1

    assert forwarded_client_ip(request_from_proxy(forwarded_for)) == PROXY


def test_fewer_entries_than_the_proxies_append_means_the_request_did_not_come_through_them(settings):
    settings.TRUSTED_PROXY_DEPTH = 2

    assert forwarded_client_ip(request_from_proxy("203.0.113.7")) == PROXY
