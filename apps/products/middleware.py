"""`GET /products` at the front of the middleware stack: replay a page while the catalog is unchanged.

The catalog list is the platform's hottest read and changes rarely. Every request still asks
PostgreSQL for the catalog's version (one tiny query, see ``selectors.catalog_state``; writers take
versions in commit order), so no answer is ever staler than the database; when the version is the
one a page was rendered at, the response Django produced then is sent again without running the
rest of the stack. Only plain successes are kept (200, no cookies, not varying on the cookie);
everything else, bad query strings included, goes through the full stack every time. At most
``CATALOG_PAGE_CACHE_SIZE`` pages are kept per process (distinct schemes, hosts, query strings and Accept
headers), the least recently used dropped first.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpResponse

from apps.products.selectors import catalog_state
from shop.registry import get_service

logger = logging.getLogger(__name__)

PATHS = {"/products", "/products/"}
URLCONF = get_service("product").urlconf  # a process serving every service (tests) routes per request

PageKey = tuple[str, str, str, str]  # scheme, host, path with query string, Accept
Page = tuple[int, list[tuple[str, str]], bytes]  # status, headers, content


class CatalogPageCache:
    def __init__(self, get_response):
        self.get_response = get_response
        self.lock = threading.Lock()  # a threaded server shares one instance between requests
        self.state: int | None = None
        self.pages: OrderedDict[PageKey, Page] = OrderedDict()  # least recently used first

    def __call__(self, request):
        if request.method != "GET" or request.path_info not in PATHS or settings.ROOT_URLCONF != URLCONF:
            return self.get_response(request)
        try:
            state = catalog_state()
        except DatabaseError:
            return self.get_response(request)  # the view answers an outage properly (503)
        # The scheme too: an https page (with its HSTS header) must never answer plain HTTP, which the
        # stack behind would redirect (SECURE_SSL_REDIRECT); a redirect is never kept.
        key = (request.scheme, request.get_host(), request.get_full_path(), request.headers.get("Accept", ""))
        with self.lock:
            if state != self.state:
                self.state, self.pages = state, OrderedDict()
            page = self.pages.get(key)
            if page is not None:
                self.pages.move_to_end(key)
        if page is not None:
            status, headers, content = page
            return HttpResponse(content, status=status, headers=headers)
        # Rendered after the state was read: it shows that state or a newer one, never an older.
        response = self.get_response(request)
        if self._keepable(response):
            self._keep(state, key, (response.status_code, list(response.headers.items()), response.content))
        return response

    def _keep(self, state: int, key: PageKey, page: Page) -> None:
        with self.lock:
            if state != self.state:
                return  # another request has seen another version meanwhile: this page may predate it
            self.pages[key] = page
            self.pages.move_to_end(key)
            while len(self.pages) > settings.CATALOG_PAGE_CACHE_SIZE:
                self.pages.popitem(last=False)

    @staticmethod
    def _keepable(response) -> bool:
        return (
            response.status_code == 200
            and not response.streaming
            and not response.cookies
            and "cookie" not in response.headers.get("Vary", "").lower()
        )
