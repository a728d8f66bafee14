"""DRF's browsable API for LXD's endpoints: lxdsite's pages for a person with a browser.

The page shows the answer as LXD sends it, indented, with every ``/1.0/...`` link clickable; the
view's docstring as text; and forms that write the object as the page shows it, with the
page's ETag as If-Match. Only ``text/html`` answers come through here: what lxc and pylxd
receive (``LXDJSONRenderer``, the kept answers, the edge) is untouched.
"""

import functools
import json
import re
import tomllib
from urllib.parse import unquote

from django.conf import settings
from django.utils.html import escape
from django.utils.safestring import mark_safe
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.request import override_method
from rest_framework.utils.urls import replace_query_param

from .envelope import EncodedEnvelope
from .serializers.server import LXD_VERSION

# A JSON string that is one of LXD's URLs (``"/1.0/profiles/web"``, ``"/1.0/operations/<id>"``).
_LXD_URL = re.compile(r'"(/1\.0(?:/[^"\\]*)?)"')
# reStructuredText's inline literal (``x``) and Markdown's (`x`), as docstrings write them.
_LITERAL = re.compile(r"``(.+?)``|`([^`]+)`")


@functools.cache
def lxdsite_version():
    """lxdsite's version, from pyproject.toml (the project is run from its checkout)."""
    try:
        with open(settings.BASE_DIR / "pyproject.toml", "rb") as file:
            return tomllib.load(file)["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return ""


def pretty_json_html(text):
    """Indented JSON as HTML, each of LXD's URLs a link; ``text`` itself if it is not JSON."""
    try:
        decoded = json.loads(text)
    except ValueError:
        return escape(text)
    pretty = json.dumps(decoded, indent=4, ensure_ascii=False)
    parts = []
    position = 0
    for match in _LXD_URL.finditer(pretty):
        parts.append(escape(pretty[position : match.start()]))
        url = escape(match.group(1))
        parts.append(f'&quot;<a href="{url}" rel="nofollow">{url}</a>&quot;')
        position = match.end()
    parts.append(escape(pretty[position:]))
    return mark_safe("".join(parts))  # every piece of text above is escaped


def docstring_html(text):
    """A docstring as paragraphs of HTML: literals in ``<code>``, no reStructuredText marks left."""
    paragraphs = [" ".join(line.strip() for line in block.splitlines()) for block in re.split(r"\n\s*\n", text)]
    html = []
    for paragraph in filter(None, paragraphs):
        pieces, position = [], 0
        for match in _LITERAL.finditer(paragraph):
            pieces.append(escape(paragraph[position : match.start()]))
            pieces.append(f"<code>{escape(match.group(1) or match.group(2))}</code>")
            position = match.end()
        pieces.append(escape(paragraph[position:]))
        html.append(f"<p>{''.join(pieces)}</p>")
    return mark_safe("".join(html))  # every piece of text above is escaped


class LXDBrowsableAPIRenderer(BrowsableAPIRenderer):
    """The browsable API, branded lxdsite; its writes send If-Match with the page's ETag.

    A change made through any other client since the page loaded then answers 412 instead of
    being overwritten, as with ``lxc edit``; the 412 page offers to reload the current version.
    Forms are shown only on a successful GET: a page answering a write or an error has no
    version of the object to write from.
    """

    template = "resources/browsable_api.html"

    def _decoded(self, data):
        """The answer's envelope as a Python value (a kept answer holds only its bytes)."""
        if isinstance(data, EncodedEnvelope):
            return json.loads(data.encoded)
        return data

    def get_content(self, renderer, data, accepted_media_type, renderer_context):
        content = super().get_content(renderer, data, accepted_media_type, renderer_context)
        return pretty_json_html(content)

    def get_name(self, view):
        """``Profiles``, ``Profile web``: what the page shows, not the viewset's class name."""
        queryset = getattr(view, "queryset", None)
        lookup = getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", None)
        if queryset is None or not getattr(view, "collection_url", ""):
            return super().get_name(view)
        meta = queryset.model._meta
        if lookup in view.kwargs:
            return f"{meta.verbose_name.capitalize()} {view.kwargs[lookup]}"
        if getattr(view, "action", None) == "list":
            return str(meta.verbose_name_plural).capitalize()
        return super().get_name(view)

    def get_breadcrumbs(self, request):
        """The path's steps, each named by its last segment (``/``, ``1.0``, ``profiles``, ``web``)."""
        return [
            (unquote(url.rstrip("/").rsplit("/", 1)[-1]) or "/", url) for _, url in super().get_breadcrumbs(request)
        ]

    def get_description(self, view, status_code):
        if status_code in (401, 403):
            return ""
        return docstring_html(view.get_view_description(html=False))

    def get_raw_data_form(self, data, view, method, request):
        """The raw JSON form; for PUT and PATCH prefilled with the object's writable fields as
        the page shows them (the fields a PUT replaces, as ``lxc edit`` opens them)."""
        form = super().get_raw_data_form(data, view, method, request)
        response = self.renderer_context["response"]
        if form is None or method not in ("PUT", "PATCH") or response.status_code != 200:
            return form
        decoded = self._decoded(data)
        metadata = decoded.get("metadata") if isinstance(decoded, dict) else None
        if not isinstance(metadata, dict):
            return form
        with override_method(view, request, method):
            serializer_class = view.get_serializer_class()
        writable = [name for name, field in serializer_class().fields.items() if not field.read_only]
        editable = {name: metadata[name] for name in writable if name in metadata} or metadata
        content = json.dumps(editable, indent=4, ensure_ascii=False)
        form.fields["_content"].initial = content
        form.fields["_content"].widget.attrs["rows"] = min(max(10, content.count("\n") + 2), 40)
        return form

    def recursion_links(self, request, view):
        """A list's ways to show itself (LXD's ``recursion``): (label, URL, whether shown now)."""
        if getattr(view, "action", None) != "list":
            return []
        levels = ["URLs", "objects"] + (["objects with their state"] if hasattr(view, "full") else [])
        current = request.query_params.get("recursion", "0")
        url = request.get_full_path()
        return [
            (label, replace_query_param(url, "recursion", level), str(level) == current)
            for level, label in enumerate(levels)
        ]

    def get_context(self, data, accepted_media_type, renderer_context):
        context = super().get_context(data, accepted_media_type, renderer_context)
        request, response, view = renderer_context["request"], renderer_context["response"], renderer_context["view"]
        # Forms only where the page shows a version of what they would write.
        readable = request.method == "GET" and response.status_code == 200
        if not readable:
            context["display_edit_forms"] = False
            context["delete_form"] = None
        context.update(
            lxdsite_version=lxdsite_version(),
            lxd_version=LXD_VERSION,
            etag=response.headers.get("ETag", "") if readable else "",
            precondition_failed=response.status_code == 412,
            collection_url=getattr(view, "collection_url", "") if view.kwargs else "",
            recursion_links=self.recursion_links(request, view),
            # POST on an object renames it; on a collection it creates one.
            post_action="Rename" if view.kwargs else "Create",
        )
        return context
