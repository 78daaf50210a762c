"""URL conf for processes that serve no service (management commands, workers): nothing."""

from shop.api import json_bad_request, json_not_found, json_server_error

urlpatterns: list = []

handler400 = json_bad_request
handler404 = json_not_found
handler500 = json_server_error
