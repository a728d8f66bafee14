"""Instance filesystems as data: each instance and snapshot has a tree of files under
``LXD_DIR`` (never under a storage pool's ``source``), seeded from its image's rootfs, copied
with ``lxc copy``, snapshots and restores, served by ``/1.0/instances/NAME/files``.

``trees`` says where trees live and follows the rows' lifecycle, ``unpacking`` fills a tree
from an image, ``resolving`` keeps every path inside its tree, ``metadata`` records the owner
and mode LXD reports, ``access`` does what the files API asks.
"""

from .trees import copy_tree, ensure_tree, recover_trees, scratch_file, seed_from_image, tree_path

__all__ = ["copy_tree", "ensure_tree", "recover_trees", "scratch_file", "seed_from_image", "tree_path"]
