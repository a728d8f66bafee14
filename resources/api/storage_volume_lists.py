"""The lists of ``/1.0/storage-pools/POOL/volumes[/TYPE]``: custom volumes with their snapshots and
instances' volumes with theirs, in LXD 5.0.2's order and URLs, narrowed by LXD's ``filter=``."""

from collections import defaultdict
from types import SimpleNamespace

from .. import lxd_filter
from ..instance_volumes import INSTANCE_TYPES, instance_volumes
from ..models import Project, StorageVolume, StorageVolumeSnapshot
from .base import escaped, recursion_level


def _listed(read):
    """A filter field read from a list's row (a volume, and its snapshot or None)."""
    return lambda row: read(*row)


def _shown_name(volume, snapshot):
    return f"{volume.name}/{snapshot.name}" if snapshot else volume.name


def _shown_config(volume, snapshot):
    return snapshot.config if snapshot is not None and not getattr(snapshot, "instance", False) else volume.config


# The fields LXD's ``filter=`` may name on a volume list (storage_volume_api_filtering).
VOLUME_FILTER_FIELDS = {
    "name": lxd_filter.Field(lxd_filter.Kind.TEXT, _listed(_shown_name)),
    "type": lxd_filter.Field(lxd_filter.Kind.TEXT, _listed(lambda volume, _: volume.type)),
    "content_type": lxd_filter.Field(lxd_filter.Kind.TEXT, _listed(lambda volume, _: volume.content_type)),
    "description": lxd_filter.Field(
        lxd_filter.Kind.TEXT, _listed(lambda volume, snapshot: getattr(snapshot, "description", volume.description))
    ),
    "project": lxd_filter.Field(lxd_filter.Kind.TEXT, _listed(lambda volume, _: volume.project.name)),
    "location": lxd_filter.Field(lxd_filter.Kind.TEXT, lambda row: "none"),
    "config": lxd_filter.Field(lxd_filter.Kind.TEXT_MAP, _listed(_shown_config)),
}


class VolumeListMixin:
    """``list`` for a volume viewset (one with ``pool()``, ``volume_type()`` and a project scope)."""

    def list(self, request, *args, **kwargs):
        return self.cached_read(lambda: self._list(request))

    def _list(self, request):
        volumes = list(self.get_queryset().filter(instance__isnull=True))
        snapshots = StorageVolumeSnapshot.objects.filter(volume__in=[v.pk for v in volumes]).order_by("id")
        by_volume = defaultdict(list)
        for snapshot in snapshots:
            by_volume[snapshot.volume_id].append(snapshot)
        rows = [(volume, None) for volume in volumes]
        rows += [(volume, snapshot) for volume in volumes for snapshot in by_volume[volume.pk]]
        volume_type = self.volume_type()
        if volume_type in (None, *INSTANCE_TYPES):
            for volume, names in instance_volumes(self.pool(), self.project_name(), volume_type):
                rows.append((volume, None))
                # An instance's snapshots: LXD shows them as their instance's volume, renamed.
                rows += [(volume, SimpleNamespace(name=name, instance=True)) for name in names]
        clauses = lxd_filter.parse(request.query_params.get("filter", ""))
        if clauses:
            rows = [row for row in rows if lxd_filter.matches(VOLUME_FILTER_FIELDS, row, clauses)]
        # LXD's order: by type (its database's codes), then name ("NAME/SNAP" for snapshots).
        rows.sort(
            key=lambda row: (
                StorageVolume.TYPES.index(row[0].type),
                row[0].name + (f"/{row[1].name}" if row[1] else ""),
                row[0].project.name,
            )
        )
        if recursion_level(request) < 1:
            return self.collection_response([self._listed_url(volume, snapshot) for volume, snapshot in rows])
        serializer = self.get_serializer([volume for volume, _ in rows], many=True)
        shown = []
        for (volume, snapshot), data in zip(rows, serializer.data, strict=True):
            if snapshot is not None and getattr(snapshot, "instance", False):
                data = {**data, "name": f"{volume.name}/{snapshot.name}"}
            elif snapshot is not None:
                data = {
                    **data,
                    "name": f"{volume.name}/{snapshot.name}",
                    "description": snapshot.description,
                    "config": dict(sorted(snapshot.config.items())),
                    "used_by": [],
                }
            shown.append(data)
        return self.collection_response(shown)

    def _listed_url(self, volume, snapshot):
        """A list's URL: LXD escapes the name twice there (``a b`` is ``a%2520b``)."""
        url = f"{self.collection_url}/{volume.type}/{escaped(escaped(volume.name))}"
        if snapshot is not None:
            url += f"/snapshots/{escaped(escaped(snapshot.name))}"
        return url + Project.url_query(volume.project.name if self.across_projects() else self.project_name())
