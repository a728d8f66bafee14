"""In-process API clients, as the API sees lxc and pylxd."""

from rest_framework.test import APIClient

from resources.trust import LISTENER_KEY


def api_client(listener):
    """A DRF client sending JSON, as lxc and pylxd do, as if accepted by ``listener`` ("unix" or "tcp")."""
    client = APIClient(**{LISTENER_KEY: listener})
    client.default_format = "json"
    return client
