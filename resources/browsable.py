"""DRF's browsable API for LXD's endpoints, writing with the ETag each page was rendered from."""

from rest_framework.renderers import BrowsableAPIRenderer


class LXDBrowsableAPIRenderer(BrowsableAPIRenderer):
    """The browsable API; its PUT, PATCH and DELETE buttons send If-Match with the page's ETag.

    A change made through any other client since the page loaded then answers 412 instead of
    being overwritten, as with ``lxc edit``.
    """

    template = "resources/browsable_api.html"

    def get_context(self, data, accepted_media_type, renderer_context):
        context = super().get_context(data, accepted_media_type, renderer_context)
        response = renderer_context["response"]
        context["etag"] = response.headers.get("ETag", "")
        return context
