from datetime import datetime, timedelta

import pytest
from django.db.models import Sum

from apps.inventory.enums import MovementKind
from apps.inventory.models import InventoryItem, StockMovement
from apps.inventory.tests.factories import InventoryItemFactory

pytestmark = pytest.mark.django_db(databases=["inventory"])


@pytest.fixture
def api(service_client):
    return service_client("inventory")


def movements(sku: str) -> list[int]:
    """The ledger's deltas for one SKU, oldest first."""
    return list(StockMovement.objects.filter(product_sku=sku).order_by("id").values_list("delta", flat=True))


def ledger_sum(sku: str) -> int:
    return StockMovement.objects.filter(product_sku=sku).aggregate(total=Sum("delta"))["total"] or 0


def stock(sku: str) -> int:
    item = InventoryItem.objects.filter(product_sku=sku).first()
    return item.quantity if item else 0


# --- Health and routing --------------------------------------------------------------------------


def test_health_names_the_inventory_service(api):
    response = api.get("/")

    assert response.status_code == 200
    assert response.json()["status"] == "healthy"
    assert response.json()["service"] == "inventory-service"


def test_unknown_path_is_a_json_404(api):
    response = api.get("/nothing-here")

    assert response.status_code == 404
    assert "detail" in response.json()


def test_the_openapi_schema_describes_the_inventory_endpoints(api):
    response = api.get("/schema?format=json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert any(p.startswith("/inventory") for p in paths)
    assert api.get("/docs").status_code == 200


def test_routes_of_other_services_are_not_served(api):
    assert api.get("/customers").status_code == 404
    assert api.get("/products").status_code == 404


# --- POST /inventory -----------------------------------------------------------------------------


def test_create_answers_201_and_writes_the_ledger(api):
    response = api.post("/inventory", {"product_sku": "LAP-001", "quantity": 50}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["product_sku"] == "LAP-001"
    assert body["quantity"] == 50
    assert datetime.fromisoformat(body["updated_at"]).utcoffset() == timedelta(0)
    assert stock("LAP-001") == 50
    [movement] = StockMovement.objects.filter(product_sku="LAP-001")
    assert movement.delta == 50
    assert movement.kind == MovementKind.ADJUSTED
    assert movement.reference == "api"


def test_create_with_zero_stock_writes_no_ledger_row(api):
    response = api.post("/inventory", {"product_sku": "LAP-001", "quantity": 0}, format="json")

    assert response.status_code == 201
    assert response.json()["quantity"] == 0
    assert movements("LAP-001") == []


def test_create_accepts_the_largest_quantity(api):
    response = api.post("/inventory", {"product_sku": "LAP-001", "quantity": 1_000_000_000}, format="json")

    assert response.status_code == 201
    assert response.json()["quantity"] == 1_000_000_000
    assert movements("LAP-001") == [1_000_000_000]


def test_duplicate_sku_is_409_and_changes_nothing(api):
    # given
    api.post("/inventory", {"product_sku": "LAP-001", "quantity": 5}, format="json")

    # when
    response = api.post("/inventory", {"product_sku": "LAP-001", "quantity": 99}, format="json")

    # then
    assert response.status_code == 409
    assert "product_sku" in response.json()
    assert stock("LAP-001") == 5
    assert movements("LAP-001") == [5]


BAD_QUANTITIES = [
    -1,
    -1_000_000_001,
    1.5,
    0.1,
    -0.5,
    "1.5",
    "abc",
    "",
    "ten",
    "1e3",
    "9" * 2000,
    True,
    False,
    None,
    [5],
    {"value": 5},
    1_000_000_001,
    10**30,
    1e20,
]


@pytest.mark.parametrize("quantity", BAD_QUANTITIES)
def test_create_with_a_bad_quantity_is_400_and_writes_nothing(api, quantity):
    response = api.post("/inventory", {"product_sku": "LAP-001", "quantity": quantity}, format="json")

    assert response.status_code == 400
    assert "quantity" in response.json()
    assert not InventoryItem.objects.exists()
    assert not StockMovement.objects.exists()


@pytest.mark.parametrize(
    "payload",
    [
        {"quantity": 5},
        {"product_sku": "LAP-001"},
        {"product_sku": "", "quantity": 5},
        {"product_sku": "has space", "quantity": 5},
        {"product_sku": "-LEADING-DASH", "quantity": 5},
        {"product_sku": "SLASH/001", "quantity": 5},
        {"product_sku": "NUL\x00001", "quantity": 5},
        {"product_sku": "X" * 65, "quantity": 5},
        {"product_sku": None, "quantity": 5},
        {"product_sku": ["LAP-001"], "quantity": 5},
        {},
    ],
)
def test_create_with_a_bad_sku_or_missing_field_is_400_and_writes_nothing(api, payload):
    response = api.post("/inventory", payload, format="json")

    assert response.status_code == 400
    assert isinstance(response.json(), dict)
    assert not InventoryItem.objects.exists()
    assert not StockMovement.objects.exists()


def test_a_sku_of_64_characters_is_accepted(api):
    sku = "X" * 64

    response = api.post("/inventory", {"product_sku": sku, "quantity": 1}, format="json")

    assert response.status_code == 201
    assert api.get(f"/inventory/{sku}").json()["quantity"] == 1


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "42", "null", "{not json", '{"quantity": NaN}'])
def test_malformed_or_non_object_json_is_400_and_writes_nothing(api, body):
    response = api.generic("POST", "/inventory", body, content_type="application/json")

    assert response.status_code == 400
    assert isinstance(response.json(), dict)
    assert not InventoryItem.objects.exists()
    assert not StockMovement.objects.exists()


# --- GET /inventory ------------------------------------------------------------------------------


def test_list_is_paginated_with_a_count_and_ordered_by_sku(api):
    for sku in ("C-1", "A-1", "B-1"):
        InventoryItemFactory(product_sku=sku)

    first = api.get("/inventory?limit=2").json()
    second = api.get("/inventory?limit=2&offset=2").json()

    assert first["count"] == 3
    assert [i["product_sku"] for i in first["results"]] == ["A-1", "B-1"]
    assert first["next"] is not None
    assert [i["product_sku"] for i in second["results"]] == ["C-1"]
    assert second["next"] is None


def test_list_items_have_the_contract_fields(api):
    InventoryItemFactory(product_sku="LAP-001", quantity=7)

    [item] = api.get("/inventory").json()["results"]

    assert {"product_sku", "quantity", "updated_at"} <= item.keys()
    assert (item["product_sku"], item["quantity"]) == ("LAP-001", 7)


def test_list_default_page_is_bounded_and_the_limit_capped(api):
    InventoryItemFactory.create_batch(55)

    default = api.get("/inventory").json()
    huge = api.get("/inventory?limit=100000").json()

    assert default["count"] == 55
    assert len(default["results"]) == 50
    assert len(huge["results"]) == 55


def test_list_of_an_empty_table(api):
    assert api.get("/inventory/").json() == {"count": 0, "next": None, "previous": None, "results": []}


# --- GET /inventory/{sku} ------------------------------------------------------------------------


def test_retrieve_answers_the_stock_level(api):
    InventoryItemFactory(product_sku="LAP-001", quantity=50)

    response = api.get("/inventory/LAP-001")

    assert response.status_code == 200
    assert response.json()["product_sku"] == "LAP-001"
    assert response.json()["quantity"] == 50
    assert api.get("/inventory/LAP-001/").status_code == 200


def test_retrieve_is_case_sensitive_about_the_sku(api):
    InventoryItemFactory(product_sku="LAP-001")

    assert api.get("/inventory/lap-001").status_code == 404


@pytest.mark.parametrize("sku", ["NOPE-1", "X" * 65, "has%20space", "%00", "LAP%00001", "%FF"])
@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_unknown_or_malformed_sku_is_a_json_404(api, method, sku):
    InventoryItemFactory(product_sku="LAP-001", quantity=5)

    response = getattr(api, method)(f"/inventory/{sku}", {"quantity": 1}, format="json")

    assert response.status_code == 404
    assert "detail" in response.json()
    assert stock("LAP-001") == 5
    assert not StockMovement.objects.exists()


# --- PUT /inventory/{sku} ------------------------------------------------------------------------


@pytest.mark.parametrize(("before", "after"), [(10, 25), (10, 3), (10, 0), (0, 10)])
def test_update_sets_the_quantity_and_writes_the_difference_to_the_ledger(api, before, after):
    # given
    api.post("/inventory", {"product_sku": "LAP-001", "quantity": before}, format="json")

    # when
    response = api.put("/inventory/LAP-001", {"quantity": after}, format="json")

    # then
    assert response.status_code == 200
    assert response.json()["quantity"] == after
    assert stock("LAP-001") == after
    assert movements("LAP-001")[-1] == after - before
    assert ledger_sum("LAP-001") == after


def test_update_to_the_same_quantity_writes_no_ledger_row(api):
    api.post("/inventory", {"product_sku": "LAP-001", "quantity": 10}, format="json")

    response = api.put("/inventory/LAP-001", {"quantity": 10}, format="json")

    assert response.status_code == 200
    assert movements("LAP-001") == [10]


def test_update_ignores_a_sku_in_the_body(api):
    api.post("/inventory", {"product_sku": "LAP-001", "quantity": 10}, format="json")

    response = api.put("/inventory/LAP-001", {"product_sku": "PHN-001", "quantity": 4}, format="json")

    assert response.status_code == 200
    assert response.json()["product_sku"] == "LAP-001"
    assert stock("LAP-001") == 4
    assert not InventoryItem.objects.filter(product_sku="PHN-001").exists()


@pytest.mark.parametrize("quantity", BAD_QUANTITIES)
def test_update_with_a_bad_quantity_is_400_and_changes_nothing(api, quantity):
    api.post("/inventory", {"product_sku": "LAP-001", "quantity": 10}, format="json")

    response = api.put("/inventory/LAP-001", {"quantity": quantity}, format="json")

    assert response.status_code == 400
    assert "quantity" in response.json()
    assert stock("LAP-001") == 10
    assert movements("LAP-001") == [10]


@pytest.mark.parametrize("body", ["{}", "[1, 2]", "null", "{not json"])
def test_update_without_a_quantity_or_with_malformed_json_is_400(api, body):
    api.post("/inventory", {"product_sku": "LAP-001", "quantity": 10}, format="json")

    response = api.generic("PUT", "/inventory/LAP-001", body, content_type="application/json")

    assert response.status_code == 400
    assert stock("LAP-001") == 10
    assert movements("LAP-001") == [10]


def test_update_of_an_unknown_sku_is_404_and_creates_nothing(api):
    response = api.put("/inventory/NOPE-1", {"quantity": 5}, format="json")

    assert response.status_code == 404
    assert "detail" in response.json()
    assert not InventoryItem.objects.exists()
    assert not StockMovement.objects.exists()


# --- DELETE /inventory/{sku} ---------------------------------------------------------------------


def test_delete_removes_the_stock_and_writes_its_removal_to_the_ledger(api):
    # given
    api.post("/inventory", {"product_sku": "LAP-001", "quantity": 12}, format="json")

    # when
    response = api.delete("/inventory/LAP-001")

    # then
    assert response.status_code == 204
    assert not InventoryItem.objects.filter(product_sku="LAP-001").exists()
    assert movements("LAP-001") == [12, -12]
    assert ledger_sum("LAP-001") == 0
    assert api.get("/inventory/LAP-001").status_code == 404
    assert api.delete("/inventory/LAP-001").status_code == 404
    assert movements("LAP-001") == [12, -12]


def test_delete_of_empty_stock_writes_no_ledger_row(api):
    api.post("/inventory", {"product_sku": "LAP-001", "quantity": 0}, format="json")

    response = api.delete("/inventory/LAP-001")

    assert response.status_code == 204
    assert movements("LAP-001") == []


def test_delete_of_one_sku_leaves_the_others(api):
    api.post("/inventory", {"product_sku": "LAP-001", "quantity": 1}, format="json")
    api.post("/inventory", {"product_sku": "PHN-001", "quantity": 2}, format="json")

    api.delete("/inventory/LAP-001")

    assert stock("PHN-001") == 2
    assert movements("PHN-001") == [2]


def test_a_deleted_sku_can_be_stocked_again(api):
    api.post("/inventory", {"product_sku": "LAP-001", "quantity": 3}, format="json")
    api.delete("/inventory/LAP-001")

    response = api.post("/inventory", {"product_sku": "LAP-001", "quantity": 8}, format="json")

    assert response.status_code == 201
    assert movements("LAP-001") == [3, -3, 8]
    assert ledger_sum("LAP-001") == 8


# --- The ledger ----------------------------------------------------------------------------------


def test_the_ledger_sums_to_the_stock_of_every_sku_after_any_sequence_of_changes(api):
    # given / when: a mix of changes, some refused, across two SKUs
    api.post("/inventory", {"product_sku": "LAP-001", "quantity": 50}, format="json")
    api.post("/inventory", {"product_sku": "PHN-001", "quantity": 100}, format="json")
    api.put("/inventory/LAP-001", {"quantity": 45}, format="json")
    api.put("/inventory/PHN-001", {"quantity": 130}, format="json")
    api.post("/inventory", {"product_sku": "LAP-001", "quantity": 1}, format="json")  # 409
    api.put("/inventory/LAP-001", {"quantity": -5}, format="json")  # 400
    api.put("/inventory/LAP-001", {"quantity": 45}, format="json")  # no change
    api.put("/inventory/LAP-001", {"quantity": 60}, format="json")
    api.delete("/inventory/PHN-001")
    api.post("/inventory", {"product_sku": "PHN-001", "quantity": 7}, format="json")

    # then
    assert movements("LAP-001") == [50, -5, 15]
    assert movements("PHN-001") == [100, 30, -130, 7]
    for sku in ("LAP-001", "PHN-001"):
        assert ledger_sum(sku) == stock(sku)
