"""The API extensions lxdsite implements, advertised in ``GET /1.0``.

The ``lxc`` client picks URLs and features from this list, so it names only what works.
"""

API_EXTENSIONS = [
    "etag",
    "patch",
    "profile_usedby",
    "entity_description",
    # /1.0/instances/NAME/backups: backups made, renamed, deleted and exported (`lxc export`,
    # `lxc info`), with a compression algorithm; POST /1.0/instances with a backup tarball
    # (`lxc import`), X-LXD-pool and X-LXD-name overriding its pool and name.
    "container_backup",
    "backup_compression",
    "backup_compression_algorithm",
    "container_backup_override_pool",
    "backup_override_name",
    # Images: profiles, expiry and type fields; operations carry a description.
    "image_profiles",
    "images_expiry",
    "image_types",
    "operation_description",
    # Instance creates with source.type copy (`lxc copy`), with instance_only (`--instance-only`).
    "container_only_migration",
    # POST /1.0/instances/NAME with migration and a pool or project: `lxc move -s POOL` and
    # `lxc move --target-project P` move the instance on the server (resources/instance_moves.py).
    "instance_pool_move",
    "instance_project_move",
    # /1.0/instances/NAME/metadata and /metadata/templates (`lxc config metadata|template`).
    "container_edit_metadata",
    # /1.0/instances/NAME/files: directories, delete, append, symlinks (made and read) and HEAD
    # (resources/api/instance_files.py): `lxc file push/pull/delete/edit`, -r, -p.
    "directory_manipulation",
    "file_delete",
    "file_append",
    "file_symlinks",
    "file_get_symlink",
    "instance_file_head",
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
    # A project's limits.* (instances, containers, virtual-machines, cpu, memory, processes) and
    # restricted.* keys, enforced on instance, profile and project writes (resources/project_limits.py).
    "projects_limits",
    "projects_limits_instances",
    "projects_restrictions",
    "projects_restricted_backups_and_snapshots",
    "projects_restricted_intercept",
    # /1.0/networks: managed networks (recorded, no interface made) and the host's interfaces;
    # lxc refuses every `lxc network` command without it.
    "network",
    # /1.0/networks/NAME/state and /leases (`lxc network info`, `lxc network list-leases`).
    "network_state",
    "network_leases",
    # NICs name a managed network (`network=`), checked against it; `lxc launch/init -n` sends that.
    "instance_nic_network",
    # /1.0/network-acls: ACLs with LXD's rule checks (recorded, never applied); `lxc network acl`.
    "network_acl",
    # /1.0/network-zones (zones recorded, no DNS served); networks' dns.zone.* name them.
    "network_dns",
    # /1.0/network-zones/ZONE/records: records with LXD's entry checks; `lxc network zone record`.
    "network_dns_records",
    # /1.0/networks/NAME/forwards on bridges (recorded, never applied): `lxc network forward`.
    "network_forward",
    # /1.0/networks/NAME/peers on OVN networks (recorded, no router linked): `lxc network peer`.
    "network_peer",
    # /1.0/certificates: PUT/PATCH change a certificate, which may be restricted to projects.
    "certificate_update",
    "certificate_project",
    # POST /1.0/certificates with token=true: certificate add tokens (`lxc config trust add`).
    "certificate_token",
    # /1.0/storage-pools (lxc storage ... and `lxc init -s POOL` refuse to run without it),
    # and /1.0/storage-pools/NAME/resources (`lxc storage info`).
    "storage",
    "resources",
    # /1.0/storage-pools/POOL/volumes: custom volumes (filesystem and block) renamed, copied and
    # moved between pools and projects, their snapshots (expiry, restore) and /state: `lxc storage volume`.
    "storage_api_volume_rename",
    "storage_api_local_volume_handling",
    "storage_api_volume_snapshots",
    "custom_volume_snapshot_expiry",
    "custom_block_volumes",
    "storage_volume_state",
    "storage_volume_state_total",
    "storage_volume_api_filtering",
    "storage_volume_project_move",
    "storage_volumes_all_projects",
]
