"""Fuzz every service's HTTP API from its own OpenAPI schema (schemathesis), in process.

One test per service: Django's WSGI app with that service's URL conf, the schema it serves at
GET /schema, every operation in it, with valid and invalid input. Checks: no 5xx, only documented
status codes, responses (errors included) that match the documented schema and content type. The
state is real: the service's own PostgreSQL database, outside any test transaction, seeded with demo
rows whose ids the requests use now and then, so that they get past the 404s.

The short run in `make test` is deterministic. FUZZ_MAX_EXAMPLES (examples per operation and mode)
makes the long run of `make fuzz`, with new random data each time.
"""

import os
import time
import uuid
from collections import Counter
from decimal import Decimal

import jwt
import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig
from schemathesis.errors import FailureGroup

from apps.carts.tests.factories import CatalogProductFactory as CartCatalogProductFactory
from apps.customers.demo import DEMO_CUSTOMERS
from apps.customers.demo import seed as seed_customers
from apps.inventory.demo import seed as seed_stock
from apps.notifications.tests.factories import NotificationFactory
from apps.orders.tests.factories import CatalogProductFactory as OrderCatalogProductFactory
from apps.orders.tests.factories import lines, place_order
from apps.products.demo import DEMO_PRODUCTS
from apps.products.demo import seed as seed_products
from apps.push.tests.factories import PushMessageFactory
from shop.api import CUSTOMER_HEADER
from shop.registry import SERVICES, get_service

LONG_RUN = "FUZZ_MAX_EXAMPLES" in os.environ
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "20"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
HYPOTHESIS = hypothesis_settings(
    max_examples=MAX_EXAMPLES,
    derandomize=not LONG_RUN,
    deadline=None,
    database=None,  # no replay of old failures: the short run stays the same run, the long one new each time
    suppress_health_check=list(HealthCheck),  # slow or heavily filtered generation is fine here
    report_multiple_bugs=False,
)

DEMO_CUSTOMER = str(DEMO_CUSTOMERS[0][0])
DEMO_SKUS = [sku for sku, *_ in DEMO_PRODUCTS]


# --- Demo state per service: returns the known values to put in requests, by parameter name. ---


def _product_state() -> dict[str, list[str]]:
    seed_products()
    return {"sku": DEMO_SKUS}


def _inventory_state() -> dict[str, list[str]]:
    seed_stock()
    return {"product_sku": DEMO_SKUS}


def _customer_state() -> dict[str, list[str]]:
    seed_customers()
    return {"customer_id": [str(customer_id) for customer_id, *_ in DEMO_CUSTOMERS]}


def _cart_state() -> dict[str, list[str]]:
    for sku in DEMO_SKUS:
        CartCatalogProductFactory(sku=sku, price=Decimal("9.99"))
    return {"product_sku": DEMO_SKUS}


def _order_state() -> dict[str, list[str]]:
    OrderCatalogProductFactory(sku="LAP-001", price=Decimal("999.99"))
    orders = [place_order(customer_id=DEMO_CUSTOMER, items=lines(("LAP-001", 1))) for _ in range(3)]
    return {
        "order_id": [str(order.id) for order in orders],
        "cart_id": [str(order.cart_id) for order in orders],
        "customer_id": [DEMO_CUSTOMER],
        "product_sku": DEMO_SKUS,
    }


def _notification_state() -> dict[str, list[str]]:
    notifications = NotificationFactory.create_batch(3, customer_id=DEMO_CUSTOMER)
    return {"notification_id": [str(n.id) for n in notifications], "customer_id": [DEMO_CUSTOMER]}


def _push_state() -> dict[str, list[str]]:
    PushMessageFactory.create_batch(3, customer_id=DEMO_CUSTOMER)
    return {"customer_id": [DEMO_CUSTOMER]}


DEMO_STATE = {
    "product": _product_state,
    "inventory": _inventory_state,
    "customer": _customer_state,
    "cart": _cart_state,
    "order": _order_state,
    "notification": _notification_state,
    "push": _push_state,
}


def _use_known_values(case, data, known: dict[str, list[str]]) -> None:
    """Now and then, put a known id (or the demo customer) where the request has such a field."""
    for container in (case.path_parameters, case.query, case.headers, case.body):
        if not hasattr(container, "keys"):
            continue
        for name in list(container.keys()):
            values = known.get(name)
            if values and data.draw(st.booleans(), label=f"known {name}"):
                container[name] = data.draw(st.sampled_from(values), label=name)


JWT_SECRET = "fuzz-secret-of-at-least-thirty-two-bytes"


def _tokens() -> list[str]:
    """AUTH_MODE=jwt: a valid token on every request, the demo customer's or staff's."""
    expires = int(time.time()) + 3600
    return [
        jwt.encode({"sub": DEMO_CUSTOMER, "exp": expires}, JWT_SECRET, "HS256"),
        jwt.encode({"sub": str(uuid.uuid4()), "roles": ["staff"], "exp": expires}, JWT_SECRET, "HS256"),
    ]


@pytest.mark.fuzz
@pytest.mark.parametrize("auth_mode", ["header", "jwt"])
@pytest.mark.parametrize(
    "service",
    [pytest.param(name, marks=pytest.mark.django_db(databases=[name], transaction=True)) for name in SERVICES],
)
def test_every_operation_answers_as_its_schema_says(service, auth_mode, settings, record_property):
    # given the service's routes, the schema they serve and some demo state
    settings.ROOT_URLCONF = get_service(service).urlconf
    settings.AUTH_MODE = auth_mode
    settings.AUTH_JWT_SECRET = JWT_SECRET
    # Throttles would answer most of a fuzz run with 429 (documented, so it would pass, and prove nothing).
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {}}
    tokens = _tokens() if auth_mode == "jwt" else []
    known = {CUSTOMER_HEADER: [DEMO_CUSTOMER], **DEMO_STATE.get(service, dict)()}
    schema = schemathesis.openapi.from_wsgi("/schema", get_wsgi_application(), config=SchemathesisConfig())
    requests: Counter = Counter()
    failures = []

    # when every operation gets valid and invalid requests
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @HYPOTHESIS
            @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
            def fuzz(case, data):
                _use_known_values(case, data, known)
                if tokens:
                    case.headers = {
                        **(case.headers or {}),
                        "Authorization": f"Bearer {data.draw(st.sampled_from(tokens))}",
                    }
                requests[case.operation.label] += 1
                case.call_and_validate(checks=CHECKS)

            try:
                fuzz()
            except (FailureGroup, Exception) as failure:  # go on with the other operations, report all at the end
                failures.append(f"{operation.label} ({mode} data):\n{failure}")

    # then every answer was as documented
    record_property("fuzz_requests", requests.total())
    record_property("fuzz_failures", len(failures))
    assert not failures, "\n\n".join(failures)
