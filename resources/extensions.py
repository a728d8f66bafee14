"""The API extensions lxdsite implements, advertised in ``GET /1.0``.

The ``lxc`` client picks URLs and features from this list, so it names only what works.
"""

API_EXTENSIONS = [
    "etag",
    "patch",
    "profile_usedby",
    "entity_description",
    # Images: profiles, expiry and type fields; operations carry a description.
    "image_profiles",
    "images_expiry",
    "image_types",
    "operation_description",
]
