"""The benchmark program of issue 7: `python -m bench` (see bench/__main__.py).

client.py sends the requests and samples the servers' memory, servers.py starts lxdsite, LXD
and the bare-stack app (bare_app.py), workloads.py holds the objects and timed requests,
report.py the tables and plot, docs.py writes docs/performance.md.
"""
