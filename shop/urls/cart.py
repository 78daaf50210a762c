"""The cart service (port from shop.registry): its routes and nothing else."""

from shop.api import json_bad_request, json_not_found, json_server_error
from shop.urls.common import service_urlpatterns

urlpatterns = service_urlpatterns("cart", "apps.carts.urls")

handler400 = json_bad_request
handler404 = json_not_found
handler500 = json_server_error
