from apps.orders.api.views import OrderViewSet
from shop.api import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("orders", OrderViewSet, basename="order")

urlpatterns = router.urls
