import pytest

pytestmark = pytest.mark.django_db(databases=["email"])


@pytest.fixture
def api(service_client):
    return service_client("email")


def test_health_answers_200_with_the_service_name(api):
    response = api.get("/")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["service"] == "email-service"
    assert body["checks"]["database"] == "ok"


def test_unknown_path_is_404_json(api):
    response = api.get("/notifications")

    assert response.status_code == 404
    assert "detail" in response.json()


def test_schema_is_served(api):
    response = api.get("/schema")

    assert response.status_code == 200
    assert b"email-service API" in response.content
