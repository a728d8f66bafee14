"""Middleware of lxdsite's own: Django's, made lazy where only the admin needs it."""

from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.utils.functional import SimpleLazyObject, empty


class LazyMessageMiddleware(MessageMiddleware):
    """Django's messages, with the storage made the first time something uses it.

    Only the admin uses messages. Django builds the storage (a cookie signer and two backends)
    for every request, which was a few percent of an API GET (cProfile).
    """

    def process_request(self, request):
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request, response):
        messages = getattr(request, "_messages", None)
        if isinstance(messages, SimpleLazyObject) and messages._wrapped is empty:
            # Never used: nothing was read or added, so there is nothing to store.
            return response
        return super().process_response(request, response)
