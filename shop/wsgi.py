"""WSGI entry point; SHOP_SERVICE chooses which service this process serves."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings.local")

application = get_wsgi_application()
