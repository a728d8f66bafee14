"""ASGI entry point, for deployments that want one; `manage.py serve` uses WSGI."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lxdsite.settings")

application = get_asgi_application()
