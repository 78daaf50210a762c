import pytest
from django.db.models import Sum

from apps.inventory import demo, selectors, services
from apps.inventory.enums import MovementKind
from apps.inventory.models import InventoryItem, StockMovement
from apps.inventory.tests.factories import InventoryItemFactory
from shop.errors import AlreadyExists, InvalidRequest, NotFound

pytestmark = pytest.mark.django_db(databases=["inventory"])


def ledger() -> dict[str, int]:
    """The ledger's sum per SKU."""
    rows = StockMovement.objects.values("product_sku").annotate(total=Sum("delta"))
    return {row["product_sku"]: row["total"] for row in rows}


def stock() -> dict[str, int]:
    return dict(InventoryItem.objects.values_list("product_sku", "quantity"))


class Boom(Exception):
    pass


def fail(*args, **kwargs):
    raise Boom


# --- Services ------------------------------------------------------------------------------------


def test_create_writes_the_stock_and_one_movement_with_its_reference():
    item = services.inventory_create(product_sku="LAP-001", quantity=9, reference="delivery 42")

    assert item.quantity == 9
    [movement] = StockMovement.objects.all()
    assert (movement.product_sku, movement.delta, movement.kind, movement.reference) == (
        "LAP-001",
        9,
        MovementKind.ADJUSTED,
        "delivery 42",
    )


def test_create_of_an_existing_sku_raises_already_exists():
    services.inventory_create(product_sku="LAP-001", quantity=9)

    with pytest.raises(AlreadyExists) as raised:
        services.inventory_create(product_sku="LAP-001", quantity=1)

    assert raised.value.field == "product_sku"
    assert ledger() == {"LAP-001": 9}


@pytest.mark.parametrize("quantity", [-1, -100])
def test_create_with_a_negative_quantity_is_invalid_not_a_duplicate(quantity):
    with pytest.raises(InvalidRequest) as raised:
        services.inventory_create(product_sku="LAP-001", quantity=quantity)

    assert raised.value.field == "quantity"
    assert not InventoryItem.objects.exists()
    assert not StockMovement.objects.exists()


def test_set_quantity_to_a_negative_number_is_invalid_and_changes_nothing():
    services.inventory_create(product_sku="LAP-001", quantity=5)

    with pytest.raises(InvalidRequest):
        services.inventory_set_quantity(product_sku="LAP-001", quantity=-1)

    assert stock() == {"LAP-001": 5}
    assert ledger() == {"LAP-001": 5}


def test_set_quantity_and_delete_of_an_unknown_sku_raise_not_found():
    with pytest.raises(NotFound):
        services.inventory_set_quantity(product_sku="NOPE", quantity=1)
    with pytest.raises(NotFound):
        services.inventory_delete(product_sku="NOPE")
    assert not StockMovement.objects.exists()


def test_delete_without_a_reference_says_why_in_the_ledger():
    services.inventory_create(product_sku="LAP-001", quantity=5)

    services.inventory_delete(product_sku="LAP-001")

    assert StockMovement.objects.order_by("-id").first().reference == "deleted"


def test_create_is_atomic_with_its_ledger_row(monkeypatch):
    # given the ledger write fails
    monkeypatch.setattr(services, "_record_movement", fail)

    # when
    with pytest.raises(Boom):
        services.inventory_create(product_sku="LAP-001", quantity=5)

    # then no stock appeared without its movement
    assert not InventoryItem.objects.exists()


def test_set_quantity_is_atomic_with_its_ledger_row(monkeypatch):
    services.inventory_create(product_sku="LAP-001", quantity=5)
    monkeypatch.setattr(services, "_record_movement", fail)

    with pytest.raises(Boom):
        services.inventory_set_quantity(product_sku="LAP-001", quantity=8)

    assert stock() == {"LAP-001": 5}


def test_delete_is_atomic_with_its_ledger_row(monkeypatch):
    services.inventory_create(product_sku="LAP-001", quantity=5)
    monkeypatch.setattr(services, "_record_movement", fail)

    with pytest.raises(Boom):
        services.inventory_delete(product_sku="LAP-001")

    assert stock() == {"LAP-001": 5}


def test_the_ledger_matches_the_stock_after_a_series_of_changes():
    services.inventory_create(product_sku="A-1", quantity=10)
    services.inventory_create(product_sku="B-1", quantity=0)
    services.inventory_set_quantity(product_sku="A-1", quantity=4)
    services.inventory_set_quantity(product_sku="B-1", quantity=20)
    services.inventory_set_quantity(product_sku="A-1", quantity=4)
    services.inventory_delete(product_sku="B-1")
    services.inventory_create(product_sku="B-1", quantity=3)

    assert ledger() == stock() == {"A-1": 4, "B-1": 3}


# --- Selectors -----------------------------------------------------------------------------------


def test_inventory_list_is_ordered_by_sku_and_get_raises_not_found():
    InventoryItemFactory(product_sku="B-1")
    InventoryItemFactory(product_sku="A-1")

    assert [i.product_sku for i in selectors.inventory_list()] == ["A-1", "B-1"]
    assert selectors.inventory_get(product_sku="B-1").product_sku == "B-1"
    with pytest.raises(NotFound):
        selectors.inventory_get(product_sku="C-1")


# --- Demo data -----------------------------------------------------------------------------------


def test_seed_stocks_the_demo_catalog_through_the_ledger():
    created = demo.seed()

    assert len(created) == 5
    assert stock() == {"LAP-001": 50, "PHN-001": 100, "HPH-001": 200, "WCH-001": 75, "TAB-001": 30}
    assert ledger() == stock()
    assert set(StockMovement.objects.values_list("reference", flat=True)) == {"demo data"}


def test_seed_a_second_time_creates_nothing():
    # given
    demo.seed()
    movements_before = StockMovement.objects.count()

    # when
    created = demo.seed()

    # then
    assert created == []
    assert InventoryItem.objects.count() == 5
    assert StockMovement.objects.count() == movements_before


def test_seed_leaves_an_existing_stock_level_as_it_is():
    services.inventory_create(product_sku="LAP-001", quantity=3)

    created = demo.seed()

    assert len(created) == 4
    assert stock()["LAP-001"] == 3
    assert ledger() == stock()
