"""The bare-stack ceiling: one DRF APIView returning a small dict, no database, no middleware.

What Django + DRF + gunicorn cost before lxdsite does anything; the benchmark serves it with
gunicorn (gthread and sync workers) on a unix socket:

    gunicorn --worker-class gthread --bind unix:/tmp/bare.sock bench.bare_app:application
"""

from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-bare-app",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["rest_framework"],
    MIDDLEWARE=[],
    DATABASES={},
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": [],
        "DEFAULT_PERMISSION_CLASSES": [],
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
        "UNAUTHENTICATED_USER": None,
    },
)

import django  # noqa: E402 (settings first)

django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.urls import re_path  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402


class SmallDict(APIView):
    """Any GET: a dict about the size of LXD's sync envelope around a small profile."""

    def get(self, request, path=""):
        return Response(
            {
                "type": "sync",
                "status": "Success",
                "status_code": 200,
                "operation": "",
                "error_code": 0,
                "error": "",
                "metadata": {"name": "default", "description": "Default LXD profile", "config": {}, "devices": {}},
            }
        )


urlpatterns = [re_path(r"^(?P<path>.*)$", SmallDict.as_view())]

application = get_wsgi_application()
