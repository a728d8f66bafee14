"""Comparing ETags with the daemon's through the code's recipe table (``ETagSerializer.lxd_recipe``
and ``additions``): equal where lxdsite adds nothing, else LXD's recipe gives the daemon's value
and lxdsite's value hashes it together with the additions."""

from resources.etags import compute_etag
from resources.go import GoStruct


def assert_etags_agree(recipe, ours, theirs, metadata):
    """``ours`` and ``theirs`` (ETag headers) are what the table says for an object shown as ``metadata``.

    For a recipe with additions, its LXD part must be the default shape (the recipe's fields as
    a Go ``[]any``), as the image's is.
    """
    if not recipe.additions:
        assert ours == theirs
        return
    lxd_value = [metadata[name] for name in recipe.lxd_recipe]
    assert theirs == f'"{compute_etag(lxd_value)}"'
    additions = GoStruct((name, metadata[name]) for name in recipe.additions)
    assert ours == f'"{compute_etag([lxd_value, additions])}"' != theirs
