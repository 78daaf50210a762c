from apps.inventory.api.views import InventoryViewSet
from shop.api import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("inventory", InventoryViewSet, basename="inventory")

urlpatterns = router.urls
