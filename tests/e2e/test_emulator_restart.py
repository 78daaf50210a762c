"""The Pub/Sub emulator restarted empty under a running platform, which recovers by itself."""

import socket
import uuid

import pytest

from runner import emulator
from tests.e2e.conftest import running_platform
from tests.e2e.harness import wait_until
from tests.e2e.test_saga import add, convert, new_customer, new_product, outcome

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def own_emulator(tmp_path_factory):
    """An emulator of this module's own, on a free port, so restarting it disturbs no other run."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        host = f"127.0.0.1:{sock.getsockname()[1]}"
    log = tmp_path_factory.mktemp("own-emulator") / "pubsub.log"
    process = [emulator.start(host, "shop-local", log)]

    def restart() -> None:
        emulator.stop(process[0])
        process[0] = emulator.start(host, "shop-local", log)

    yield host, restart
    emulator.stop(process[0])


def test_an_emulator_restarted_empty_mid_run_loses_nothing_and_the_platform_goes_on(own_emulator, tmp_path):
    host, restart = own_emulator
    # A short re-drive, so that what the restart swallowed comes back within the test's patience.
    with running_platform(tmp_path, host, REDRIVE_INTERVAL_SECONDS="2", REDRIVE_GRACE_SECONDS="5") as platform:
        # given: a product change published while no bridge pulls (it waits in the emulator)...
        platform.kill("bridge")
        sku = f"E2E-{uuid.uuid4().hex[:8].upper()}"
        assert platform.post("product", "/products", json={"sku": sku, "name": sku, "price": "5.00"}).status_code == 201
        wait_until(
            lambda: platform.scalar("product", "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0,
            message="the product change published",
        )

        # when: ...the emulator restarts with nothing in it, and the bridge comes back
        restart()
        platform.start("bridge")

        # then: relay and bridge provision Pub/Sub again, the re-drive publishes the swallowed change,
        # and the services that copy the catalog have it
        for service, table in (("cart", "carts_catalogproduct"), ("order", "orders_catalogproduct")):
            wait_until(
                lambda s=service, t=table: platform.rows(s, f"SELECT 1 FROM {t} WHERE sku = %s", (sku,)),  # noqa: S608
                timeout=90,
                message=f"{sku} copied to the {service} service after the restart",
            )
        assert "provisioning" in platform.log("relay") + platform.log("bridge")
        assert "re-driving" in platform.log("relay")

        # and: a whole saga goes through, with the relay and the bridge never having died
        customer = new_customer(platform)
        laptop = new_product(platform, stock=3)
        add(platform, customer, laptop, 1)
        assert outcome(platform, convert(platform, customer)) == "ordered"
        assert platform.restarts["relay"] == 0
        assert platform.restarts["bridge"] == 0
