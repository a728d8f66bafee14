"""LXD's REST endpoints: the shared framework layer, then one module per resource.

Framework: ``base`` (the viewset, its read path and the action mixins), ``reads`` (scopes and
shown relations), ``conditional`` (ETags and atomic precondition checks), ``cached_reads``
(kept answers) and ``async_writes`` (writes answered with an operation). Resources: ``server``,
``profiles``, ``images``, ``image_aliases``, ``operations``, ``instances``, ``snapshots``;
``resources/urls.py`` registers each with the router. docs/architecture.md says where a new
resource goes.
"""
