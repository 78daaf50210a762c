"""WSGI entry point; SHOP_SERVICE chooses which service this process serves."""

import os

from django.core.wsgi import get_wsgi_application

from shop.observability.logging import set_process

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings.local")
set_process("web", [os.environ.get("SHOP_SERVICE", "")])

application = get_wsgi_application()
