"""The API extensions lxdsite implements, advertised in ``GET /1.0``.

The ``lxc`` client picks URLs and features from this list, so it names only what works.
"""

API_EXTENSIONS = [
    "etag",
    "patch",
    "profile_usedby",
    "entity_description",
]
