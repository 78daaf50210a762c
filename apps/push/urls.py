from django.urls import re_path

from apps.push.api.views import CustomerPushMessagesView
from shop.api import UUID_PATTERN

urlpatterns = [
    re_path(
        rf"^notifications/(?P<customer_id>{UUID_PATTERN})/?$",
        CustomerPushMessagesView.as_view(),
        name="customer-push-messages",
    ),
]
