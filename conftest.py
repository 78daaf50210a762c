"""Root fixtures: a DRF client per service, each talking to that service's URL conf only."""

import pytest
from rest_framework.test import APIClient

from shop.services import get_service


@pytest.fixture
def service_client(settings):
    """service_client("cart") -> an APIClient whose requests reach the cart service's routes only."""

    def for_service(name: str, **headers) -> APIClient:
        settings.ROOT_URLCONF = get_service(name).urlconf
        client = APIClient()
        if headers:
            client.credentials(**headers)
        return client

    return for_service
