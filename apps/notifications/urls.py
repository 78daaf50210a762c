from apps.notifications.api.views import NotificationViewSet
from shop.api import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("notifications", NotificationViewSet, basename="notification")

urlpatterns = router.urls
