"""`GET /products` at the front of the middleware stack: replay a page while the catalog is unchanged.

The catalog list is the platform's hottest read and changes rarely. Every request still asks
PostgreSQL for the catalog's state (one small query, see ``selectors.catalog_state``), so no
answer is ever staler than the database; when the state is the one a page was rendered under,
the response Django produced then is sent again without running the rest of the stack. Only
plain successes are kept (200, no cookies, not varying on the cookie); everything else, bad
query strings included, goes through the full stack every time.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpResponse

from apps.products.selectors import catalog_state
from shop.services import get_service

logger = logging.getLogger(__name__)

MAX_PAGES = 1000  # distinct (URL, Accept) pairs kept for one catalog state; beyond that, start over
PATHS = {"/products", "/products/"}
URLCONF = get_service("product").urlconf  # a process serving every service (tests) routes per request


class CatalogPageCache:
    def __init__(self, get_response):
        self.get_response = get_response
        self.state: tuple[int, int] | None = None
        self.pages: dict[tuple[str, str, str], tuple[int, list[tuple[str, str]], bytes]] = {}

    def __call__(self, request):
        if request.method != "GET" or request.path_info not in PATHS or settings.ROOT_URLCONF != URLCONF:
            return self.get_response(request)
        try:
            state = catalog_state()
        except DatabaseError:
            return self.get_response(request)  # the view answers an outage properly (503)
        if state != self.state:
            self.state, self.pages = state, {}
        key = (request.get_host(), request.get_full_path(), request.headers.get("Accept", ""))
        page = self.pages.get(key)
        if page is not None:
            status, headers, content = page
            return HttpResponse(content, status=status, headers=headers)
        # Rendered after the state was read: it shows that state or a newer one, never an older.
        response = self.get_response(request)
        if self._keepable(response) and len(self.pages) < MAX_PAGES:
            self.pages[key] = (response.status_code, list(response.headers.items()), response.content)
        return response

    @staticmethod
    def _keepable(response) -> bool:
        return (
            response.status_code == 200
            and not response.streaming
            and not response.cookies
            and "cookie" not in response.headers.get("Vary", "").lower()
        )
