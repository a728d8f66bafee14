"""What the suite shares, imported by the test modules; fixtures are exposed by ``tests/conftest.py``.

- ``api``: in-process API clients.
- ``images``: image rows (``make_image``) and uploads through the API (``upload_image``).
- ``image_files``: small real image files.
- ``live_server``: ``manage.py serve`` as a real process, requests over its socket, free ports.
- ``workers``: which worker of a live server serves a request; clients that race them.
- ``events_client``: a ``/1.0/events`` WebSocket client.
- ``real_lxd``: the real LXD 5.0.2 daemon, in its own network namespace (``own-netns``).
- ``lxc``: the real ``lxc`` client and how its output is compared.
"""
