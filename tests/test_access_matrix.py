"""The authorization matrix: every route of every service, called by four callers in both AUTH_MODEs.

The routes are found by walking each service's URL conf and their rules read from the views' one
declaration (``access``), so a new route is in the matrix by itself: without a rule it fails
``test_every_route_declares_who_may_call_it``, without an example request here it fails too.
What each caller must get follows from the rule alone (``expected``), never from a second table.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from decimal import Decimal

import jwt
import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from apps.carts.tests.factories import CartFactory, CartItemFactory
from apps.carts.tests.factories import CatalogProductFactory as CartCatalogProductFactory
from apps.customers.demo import seed as seed_customers
from apps.inventory.demo import seed as seed_stock
from apps.notifications.tests.factories import NotificationFactory
from apps.orders.tests.factories import CatalogProductFactory as OrderCatalogProductFactory
from apps.orders.tests.factories import lines, place_order
from apps.products.demo import seed as seed_products
from apps.push.tests.factories import PushMessageFactory
from shop.access import Access, rule_for
from shop.registry import SERVICES, get_service

A = uuid.UUID("550e8400-e29b-41d4-a716-446655440000")  # John: owns everything the requests point at
B = uuid.UUID("550e8400-e29b-41d4-a716-446655440001")  # Jane
STAFF = uuid.UUID("0b5e7a1f-0000-4000-8000-00000000057a")
SECRET = "matrix-secret-of-at-least-thirty-two-bytes"
CALLERS = ("anonymous", "customer A", "customer B", "staff")
DOCS_VIEWS = (SpectacularAPIView, SpectacularSwaggerView, SpectacularRedocView)


# --- The routes, from the URL confs -----------------------------------------------------------


@dataclass(frozen=True)
class Route:
    service: str
    name: str
    method: str
    view: object

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.service, self.name, self.method)

    @property
    def rule(self) -> Access:
        return rule_for(self.view, self.method)

    def __str__(self) -> str:
        return f"{self.service}:{self.method.upper()}:{self.name}"


def _patterns(patterns):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            if entry.app_name != "admin":  # the admin has its own session login
                yield from _patterns(entry.url_patterns)
        elif isinstance(entry, URLPattern):
            yield entry


def api_routes() -> list[Route]:
    routes = []
    for service in SERVICES.values():
        for pattern in _patterns(get_resolver(service.urlconf).url_patterns):
            cls = getattr(pattern.callback, "cls", None)
            if cls is None or issubclass(cls, DOCS_VIEWS):
                continue
            view = cls(**getattr(pattern.callback, "initkwargs", {}))
            actions = getattr(pattern.callback, "actions", None)
            if actions is not None:
                view.action_map = actions
                methods = [m for m in actions if m != "head"]
            else:
                methods = [m for m in cls.http_method_names if m not in ("head", "options") and hasattr(cls, m)]
            routes += [Route(service.name, pattern.name, method, view) for method in methods]
    return routes


ROUTES = api_routes()


# --- One valid request per route, all aimed at customer A's things ----------------------------


@dataclass
class World:
    order_id: uuid.UUID | None = None
    notification_id: uuid.UUID | None = None
    push_id: uuid.UUID | None = None


def build_world(service: str) -> World:
    world = World()
    if service == "product":
        seed_products()
    elif service == "inventory":
        seed_stock()
    elif service == "customer":
        seed_customers()
    elif service == "cart":
        for sku in ("LAP-001", "PHN-001"):
            CartCatalogProductFactory(sku=sku, price=Decimal("9.99"))
        for customer in (A, B, STAFF):
            CartItemFactory(cart=CartFactory(customer_id=customer), product_sku="LAP-001")
    elif service == "order":
        OrderCatalogProductFactory(sku="LAP-001", price=Decimal("999.99"))
        world.order_id = place_order(customer_id=A, items=lines(("LAP-001", 1))).id
    elif service == "notification":
        world.notification_id = NotificationFactory(customer_id=A).id
    elif service == "push":
        world.push_id = PushMessageFactory(customer_id=A).id
    return world


# (service, route name, method) -> (path, JSON body, the id of A's row that a list must (not) show)
EXAMPLES = {
    ("product", "product-list", "get"): lambda w: ("/products", None, None),
    ("product", "product-list", "post"): lambda w: (
        "/products",
        {"sku": "NEW-001", "name": "N", "price": "1.00"},
        None,
    ),
    ("product", "product-detail", "get"): lambda w: ("/products/LAP-001", None, None),
    ("product", "product-detail", "put"): lambda w: ("/products/LAP-001", {"price": "899.99"}, None),
    ("product", "product-detail", "delete"): lambda w: ("/products/LAP-001", None, None),
    ("inventory", "inventory-list", "get"): lambda w: ("/inventory", None, None),
    ("inventory", "inventory-list", "post"): lambda w: ("/inventory", {"product_sku": "NEW-001", "quantity": 5}, None),
    ("inventory", "inventory-detail", "get"): lambda w: ("/inventory/LAP-001", None, None),
    ("inventory", "inventory-detail", "put"): lambda w: ("/inventory/LAP-001", {"quantity": 7}, None),
    ("inventory", "inventory-detail", "delete"): lambda w: ("/inventory/LAP-001", None, None),
    ("customer", "customer-list", "get"): lambda w: ("/customers", None, None),
    ("customer", "customer-list", "post"): lambda w: ("/customers", {"name": "N", "email": "n@example.com"}, None),
    ("customer", "customer-detail", "get"): lambda w: (f"/customers/{A}", None, None),
    ("customer", "customer-detail", "put"): lambda w: (f"/customers/{A}", {"name": "Johnny"}, None),
    ("customer", "customer-detail", "delete"): lambda w: (f"/customers/{A}", None, None),
    ("cart", "cart", "get"): lambda w: ("/cart", None, None),
    ("cart", "cart-items", "post"): lambda w: ("/cart/items", {"product_sku": "PHN-001", "quantity": 1}, None),
    ("cart", "cart-item", "delete"): lambda w: ("/cart/items/LAP-001", None, None),
    ("cart", "cart-convert", "post"): lambda w: ("/cart/convert-to-order", None, None),
    ("order", "order-list", "get"): lambda w: ("/orders", None, w.order_id),
    ("order", "order-list", "post"): lambda w: (
        "/orders",
        {"items": [{"product_sku": "LAP-001", "quantity": 1}]},
        None,
    ),
    ("order", "order-detail", "get"): lambda w: (f"/orders/{w.order_id}", None, None),
    ("order", "order-detail", "put"): lambda w: (f"/orders/{w.order_id}", {"status": "cancelled"}, None),
    ("order", "order-detail", "delete"): lambda w: (f"/orders/{w.order_id}", None, None),
    ("notification", "notification-list", "get"): lambda w: ("/notifications", None, w.notification_id),
    ("notification", "notification-list", "post"): lambda w: (
        "/notifications",
        {"customer_id": str(A), "channel": "email", "message": "hello"},
        None,
    ),
    ("notification", "notification-detail", "get"): lambda w: (f"/notifications/{w.notification_id}", None, None),
    ("push", "customer-push-messages", "get"): lambda w: (f"/notifications/{A}", None, w.push_id),
    ("order", "order-timeline", "get"): lambda w: (f"/orders/{w.order_id}/timeline", None, None),
    **{(name, "health", "get"): (lambda w: ("/", None, None)) for name in SERVICES},
    **{
        (name, "events-trail", "get"): (lambda w: (f"/events/trail?correlation_id={A}", None, None))
        for name in SERVICES
    },
}


# --- Who gets what, from the rule alone ---------------------------------------------------------


def expected(rule: Access, mode: str, caller: str) -> str:
    """ "ok" (2xx; a list shows A's row to A and staff), "hidden" (404; a list without A's row), or a status."""
    if rule is Access.PUBLIC:
        return "ok"
    if mode == "jwt":
        if caller == "anonymous":
            return "401"
        if rule is Access.STAFF and caller != "staff":
            return "403"
    elif rule is Access.CUSTOMER and caller in ("anonymous", "staff"):
        return "400"  # header mode: no header names no customer; the trusted operator has no cart
    if rule is Access.OWNER and caller == "customer B":
        return "hidden"
    return "ok"


def credentials(mode: str, caller: str) -> dict[str, str]:
    customer = {"customer A": A, "customer B": B, "staff": STAFF}.get(caller)
    if mode == "header":
        # The header is trusted as given; without one the caller is the trusted operator ("staff").
        return {"HTTP_X_CUSTOMER_ID": str(customer)} if caller in ("customer A", "customer B") else {}
    if customer is None:
        return {}
    claims = {"sub": str(customer), "exp": int(time.time()) + 600}
    if caller == "staff":
        claims["roles"] = ["staff"]
    return {"HTTP_AUTHORIZATION": f"Bearer {jwt.encode(claims, SECRET, 'HS256')}"}


def set_auth_mode(settings, mode: str = "jwt") -> None:
    settings.AUTH_MODE = mode
    settings.AUTH_JWT_SECRET = SECRET


def ids_in(response) -> set[str]:
    return {str(row.get("id")) for row in response.json()["results"]}


def test_every_route_declares_who_may_call_it():
    assert ROUTES, "no routes found"
    undeclared = []
    for route in ROUTES:
        try:
            route.rule  # noqa: B018 - raises for a missing declaration
        except Exception as exc:
            undeclared.append(f"{route}: {exc}")
    assert not undeclared, "\n".join(undeclared)


def test_every_route_has_an_example_request_here():
    assert [str(route) for route in ROUTES if route.key not in EXAMPLES] == []


@pytest.mark.parametrize("mode", ["header", "jwt"])
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(
    "route",
    [
        pytest.param(route, id=str(route), marks=pytest.mark.django_db(databases=[get_service(route.service).database]))
        for route in ROUTES
        if route.key in EXAMPLES
    ],
)
def test_each_caller_gets_what_the_rule_allows(route, caller, mode, settings, service_client):
    # given
    set_auth_mode(settings, mode)
    world = build_world(route.service)
    path, body, own_row = EXAMPLES[route.key](world)
    client = service_client(route.service, **credentials(mode, caller))
    outcome = expected(route.rule, mode, caller)

    # when
    response = getattr(client, route.method)(path, body, format="json") if body else getattr(client, route.method)(path)

    # then
    context = f"{route} as {caller} ({mode}): {response.status_code} {response.content[:300]!r}"
    if outcome == "ok":
        assert 200 <= response.status_code < 300, context
        if own_row is not None:
            assert str(own_row) in ids_in(response), context
    elif outcome == "hidden":
        # another's object is 404; a list shows none of A's rows (or is 404 when its path names A)
        if own_row is None or response.status_code == 404:
            assert response.status_code == 404, context
        else:
            assert response.status_code == 200, context
            assert str(own_row) not in ids_in(response), context
    else:
        assert response.status_code == int(outcome), context
        assert isinstance(response.json(), dict), context
        assert response.json(), context
        if outcome == "401":
            assert response["WWW-Authenticate"].startswith("Bearer"), context


@pytest.mark.django_db(databases=list(SERVICES))
@pytest.mark.parametrize("path", ["/schema", "/docs", "/redoc"])
def test_schema_and_docs_are_public_in_jwt_mode(path, settings, service_client):
    set_auth_mode(settings)

    assert service_client("order").get(path).status_code == 200


@pytest.mark.django_db(databases=["order"])
def test_a_customer_cancels_their_order_but_does_not_ship_it(settings, service_client):
    set_auth_mode(settings)
    order_id = build_world("order").order_id
    customer = service_client("order", **credentials("jwt", "customer A"))
    staff = service_client("order", **credentials("jwt", "staff"))

    assert customer.put(f"/orders/{order_id}", {"status": "shipped"}, format="json").status_code == 403
    assert staff.put(f"/orders/{order_id}", {"status": "shipped"}, format="json").status_code == 200
    assert customer.put(f"/orders/{order_id}", {"status": "delivered"}, format="json").status_code == 403


@pytest.mark.django_db(databases=["order"])
def test_a_customer_orders_for_themselves_only(settings, service_client):
    set_auth_mode(settings)
    build_world("order")
    items = [{"product_sku": "LAP-001", "quantity": 1}]
    customer = service_client("order", **credentials("jwt", "customer A"))
    staff = service_client("order", **credentials("jwt", "staff"))

    assert customer.post("/orders", {"items": items, "customer_id": str(B)}, format="json").status_code == 403
    own = customer.post("/orders", {"items": items, "customer_id": str(A)}, format="json")
    assert own.status_code == 202
    assert own.json()["customer_id"] == str(A)
    for_b = staff.post("/orders", {"items": items, "customer_id": str(B)}, format="json")
    assert for_b.status_code == 202
    assert for_b.json()["customer_id"] == str(B)


@pytest.mark.django_db(databases=["order"])
def test_filters_do_not_widen_a_customers_scope(settings, service_client):
    set_auth_mode(settings)
    order_id = build_world("order").order_id
    jane = service_client("order", **credentials("jwt", "customer B"))

    assert jane.get(f"/orders?customer_id={A}").json()["results"] == []
    assert str(order_id) not in {o["id"] for o in jane.get("/orders?status=confirmed").json()["results"]}


# The contract's "Verified identity" section, route by route: changing a rule is a decision to make here too.
CONTRACT = {
    **{("product", "product-list", m): r for m, r in (("get", Access.PUBLIC), ("post", Access.STAFF))},
    **{("product", "product-detail", m): r for m, r in (("get", Access.PUBLIC), ("put", Access.STAFF))},
    ("product", "product-detail", "delete"): Access.STAFF,
    **{("inventory", name, m): Access.STAFF for name in ("inventory-list", "inventory-detail") for m in ("get",)},
    ("inventory", "inventory-list", "post"): Access.STAFF,
    ("inventory", "inventory-detail", "put"): Access.STAFF,
    ("inventory", "inventory-detail", "delete"): Access.STAFF,
    ("customer", "customer-list", "get"): Access.STAFF,
    ("customer", "customer-list", "post"): Access.STAFF,
    **{("customer", "customer-detail", m): Access.OWNER for m in ("get", "put", "delete")},
    ("cart", "cart", "get"): Access.CUSTOMER,
    ("cart", "cart-items", "post"): Access.CUSTOMER,
    ("cart", "cart-item", "delete"): Access.CUSTOMER,
    ("cart", "cart-convert", "post"): Access.CUSTOMER,
    ("order", "order-list", "get"): Access.OWNER,
    ("order", "order-list", "post"): Access.CUSTOMER,
    **{("order", "order-detail", m): Access.OWNER for m in ("get", "put", "delete")},
    ("notification", "notification-list", "get"): Access.OWNER,
    ("notification", "notification-list", "post"): Access.STAFF,
    ("notification", "notification-detail", "get"): Access.OWNER,
    ("push", "customer-push-messages", "get"): Access.OWNER,
    **{(name, "health", "get"): Access.PUBLIC for name in SERVICES},
    # Issue #13's timeline: staff only (the contract's "a customer on a staff-only route: 403").
    ("order", "order-timeline", "get"): Access.STAFF,
    **{(name, "events-trail", "get"): Access.STAFF for name in SERVICES},
}


def test_the_declared_rules_are_the_contracts():
    assert {route.key: route.rule for route in ROUTES} == CONTRACT
