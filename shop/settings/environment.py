"""Where every setting comes from: the process environment, over the root .env (django-environ).

A module of its own so that base.py and the integration modules it gathers (axes, celery, pubsub)
all read one ``env`` without importing base.py back: settings import downwards only.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
