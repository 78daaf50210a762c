from apps.customers.api.views import CustomerViewSet
from shop.api import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("customers", CustomerViewSet, basename="customer")

urlpatterns = router.urls
