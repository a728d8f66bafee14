"""Images read from the database: what a full answer prefetches, and LXD's ``filter=``."""

from django.db.models import Prefetch

from ..lxd_filter import Kind, column
from ..models import ImageAlias, ImageProfile

# What a full image answer shows besides its own row: its profiles in order, its aliases by age.
IMAGE_PREFETCH = [
    Prefetch("profile_links", queryset=ImageProfile.objects.select_related("profile")),
    Prefetch("aliases", queryset=ImageAlias.objects.order_by("id")),
]


# The fields of LXD's api.Image a filter can name.
IMAGE_FILTER_FIELDS = {
    "auto_update": column(Kind.FLAG, "auto_update"),
    "properties": column(Kind.TEXT_MAP, "properties"),
    "public": column(Kind.FLAG, "public"),
    "architecture": column(Kind.TEXT, "architecture"),
    "cached": column(Kind.FLAG, "cached"),
    "filename": column(Kind.TEXT, "filename"),
    "fingerprint": column(Kind.TEXT, "fingerprint"),
    "size": column(Kind.NUMBER, "size"),
    "type": column(Kind.TEXT, "type"),
}
