"""GET /products is replayed while the catalog's version is unchanged: never stale, and a bounded cache."""

from decimal import Decimal

import pytest
from django.db import transaction

from apps.events.models import OutboxEvent
from apps.events.outbox import next_state_version
from apps.products import services
from apps.products.api import views
from apps.products.selectors import catalog_state
from apps.products.tests.factories import ProductFactory
from testsupport.concurrency import ConcurrentCalls


class Requests(ConcurrentCalls):
    database = "product"


@pytest.fixture
def api(service_client):
    return service_client("product")


@pytest.fixture
def renders(monkeypatch):
    """The query strings the list view actually rendered (a replay does not reach it)."""
    rendered = []
    render = views.ProductViewSet.list

    def counting(self, request):
        rendered.append(request.GET.urlencode())
        return render(self, request)

    monkeypatch.setattr(views.ProductViewSet, "list", counting)
    return rendered


def prices(response):
    return {p["sku"]: p["price"] for p in response.json()["results"]}


def versions():
    return {
        e.payload["sku"]: e.payload["version"]
        for e in OutboxEvent.objects.using("product").filter(event_type="product.changed").order_by("id")
    }


@pytest.mark.django_db(databases=["product"], transaction=True)
def test_a_write_that_took_its_version_first_commits_first_and_no_replay_misses_it(api):
    # given two products, and a list on the catalog as it is
    services.product_create(sku="LAP-001", name="Laptop", price=Decimal("999.99"))
    services.product_create(sku="PHN-001", name="Phone", price=Decimal("699.99"))
    update_phone = Requests(lambda: api.put("/products/PHN-001", {"price": "2.00"}, format="json"))

    with transaction.atomic(using="product"):
        # T1 (this connection) changes the laptop and takes the next version, not committed yet
        services.product_update(sku="LAP-001", price=Decimal("1.00"))
        # T2 (a request on its own connection) changes the phone: it waits for T1's version
        update_phone.start()
        update_phone.wait_until_all_blocked()
        # a list rendered meanwhile, on a third connection, is cached at the catalog's version before both
        [during] = Requests(lambda: api.get("/products")).start().join()
    # T1 commits, then T2 takes the next version and commits
    [updated] = update_phone.join()
    after = api.get("/products")

    assert prices(during) == {"LAP-001": "999.99", "PHN-001": "699.99"}
    assert updated.status_code == 200
    assert prices(after) == {"LAP-001": "1.00", "PHN-001": "2.00"}  # not the page cached during T1
    assert versions()["LAP-001"] < versions()["PHN-001"] == catalog_state()  # versions follow commit order


@pytest.mark.django_db(databases=["product"])
def test_the_catalog_version_is_every_writes_and_grows_past_the_clock_and_each_product():
    # A product from before the counter, or restored from elsewhere, with a version far ahead
    ProductFactory(sku="OLD-001", version=next_state_version() + 10_000_000_000)
    start = catalog_state()

    services.product_update(sku="OLD-001", name="Old")
    services.product_create(sku="NEW-001", name="New", price=Decimal("1.00"))
    services.product_delete(sku="NEW-001")

    old, new = versions()["OLD-001"], versions()["NEW-001"]
    assert start < old < new == catalog_state()
    assert old > 10_000_000_000


@pytest.mark.django_db(databases=["product"])
def test_the_least_recently_used_page_is_dropped_beyond_the_bound(api, renders, settings):
    settings.CATALOG_PAGE_CACHE_SIZE = 2
    services.product_create(sku="LAP-001", name="Laptop", price=Decimal("999.99"))

    for limit in (1, 2, 1, 3):  # 1 and 2 kept; 1 used again; 3 drops 2, the least recently used
        api.get(f"/products?limit={limit}")
    assert renders == ["limit=1", "limit=2", "limit=3"]

    api.get("/products?limit=1")  # still kept: replayed
    api.get("/products?limit=2")  # dropped: rendered again (and drops 3)
    api.get("/products?limit=3")  # dropped: rendered again
    assert renders == ["limit=1", "limit=2", "limit=3", "limit=2", "limit=3"]


@pytest.mark.django_db(databases=["product"])
def test_a_change_drops_every_page(api, renders):
    services.product_create(sku="LAP-001", name="Laptop", price=Decimal("999.99"))
    api.get("/products?limit=1")
    api.get("/products?limit=2")

    services.product_update(sku="LAP-001", price=Decimal("1.00"))
    responses = [api.get("/products?limit=1"), api.get("/products?limit=2")]

    assert renders == ["limit=1", "limit=2", "limit=1", "limit=2"]
    assert [prices(r) for r in responses] == [{"LAP-001": "1.00"}] * 2


@pytest.mark.django_db(databases=["product"])
def test_a_page_served_over_https_is_never_replayed_to_plain_http(settings, service_client, renders):
    # given production's redirect to https, and a page rendered for an https request
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["testserver"]
    ProductFactory(sku="LAP-001")
    api = service_client("product")
    assert api.get("/products", secure=True).status_code == 200
    assert api.get("/products", secure=True).status_code == 200

    # when the same page is asked for over plain HTTP
    plain = api.get("/products")

    # then it is redirected as every other plain request, not replayed
    assert plain.status_code == 301
    assert plain["Location"].startswith("https://")
    assert renders == [""]  # the second https request was a replay
