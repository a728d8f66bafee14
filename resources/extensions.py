"""The API extensions lxdsite implements, advertised in ``GET /1.0``.

The ``lxc`` client picks URLs and features from this list, so it names only what works.
"""

API_EXTENSIONS = [
    "etag",
    "patch",
    "profile_usedby",
    "entity_description",
    # /1.0/instances/NAME/backups, always empty (`lxc info` reads it).
    "container_backup",
    # Images: profiles, expiry and type fields; operations carry a description.
    "image_profiles",
    "images_expiry",
    "image_types",
    "operation_description",
    # /1.0/instances (lxc uses /1.0/containers without it), filter= on lists, and
    # recursion=2 with state and snapshots, which `lxc list` asks for.
    "instances",
    "api_filtering",
    "container_full",
    # PUT /1.0/instances: `lxc start --all` (and stop, restart, pause) in one request.
    "instance_bulk_state_change",
    # /1.0/projects, and ?project= on profiles, instances, images, aliases and operations
    # (lxc refuses --project and `lxc project` without it).
    "projects",
    # /1.0/projects/NAME/state, which `lxc project info` reads.
    "project_usage",
    # all-projects=true on the instance lists: `lxc list --all-projects`.
    "instance_all_projects",
    # /1.0/storage-pools (lxc storage ... and `lxc init -s POOL` refuse to run without it),
    # and /1.0/storage-pools/NAME/resources (`lxc storage info`).
    "storage",
    "resources",
]
