"""The benchmark (`python -m bench`) and the chaos run (`python -m bench.chaos`): clients of the platform.

They read the platform's settings and models' databases, so Django is set up on import.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings.local")
django.setup()
