from apps.products.api.views import ProductViewSet
from shop.api import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("products", ProductViewSet, basename="product")

urlpatterns = router.urls
