"""WSGI entry point: the stack `manage.py serve` runs (listener marking, the edge, Django)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lxdsite.settings")

django_application = get_wsgi_application()

from resources.edge import served_stack  # noqa: E402  (needs the apps loaded above)

application = served_stack(django_application)
