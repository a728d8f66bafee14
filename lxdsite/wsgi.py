"""WSGI entry point: what gunicorn serves (see `manage.py serve`)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lxdsite.settings")

application = get_wsgi_application()
