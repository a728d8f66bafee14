"""What LXD keeps of an instance's processes: ``/exec``, ``/console`` and ``/logs``.

lxdsite runs no processes. A stopped instance is refused as LXD refuses it; a (recorded)
running one cannot be exec'd into or attached to, and says so. Its logs are the files LXD
lists for an instance, empty: nothing ever wrote to them.
"""

import re

from django.http import HttpResponse
from rest_framework import exceptions
from rest_framework.decorators import action

from ..envelope import SyncResponse
from ..exceptions import NotImplementedMethod
from ..models import Instance
from ..serializers.fields import lxd_error
from .async_writes import escaped

NO_PROCESSES = "lxdsite runs no processes: {what} is not available (the instance's state is a record)"
# The log LXD lists for every instance, those it never deletes, and the names it serves at all
# (lxd/instance_logs.go validLogFileName).
STANDING_LOGS = ("lxc.log",)
KEPT_LOGS = ("lxc.log", "lxc.conf")
_LOG_NAME = re.compile(r"lxc\.log|lxc\.conf|qemu\.log|(migration|snapshot|exec)_.*", re.DOTALL)


def _log_file(name, body=b""):
    """A log as LXD serves a file: its bytes, inline, under its own name."""
    response = HttpResponse(body, content_type="application/octet-stream")
    response["Content-Disposition"] = f"inline;filename={name}"
    return response


class InstanceProcessesMixin:
    """``exec``, ``console`` and ``logs`` on an instance (of the request's project)."""

    def _running(self, what):
        """Refuse ``what`` as LXD refuses it for a body that is not JSON and for a stopped or frozen
        instance, and with lxdsite's own text for a running one."""
        try:
            self.request_data()
        except exceptions.ParseError as exc:
            # LXD reads these bodies whole, then decodes them (json.Unmarshal): a body that ends
            # early has that function's text, not a stream decoder's.
            if str(exc.detail) in ("EOF", "unexpected EOF"):
                raise exceptions.ParseError("unexpected end of JSON input") from exc
            raise
        instance = self.get_object()
        if instance.status == Instance.STOPPED:
            raise lxd_error("Instance is not running")
        if instance.status == Instance.FROZEN:
            raise lxd_error("Instance is frozen")
        raise NotImplementedMethod(NO_PROCESSES.format(what=what))

    @action(detail=True, methods=["post"])
    def exec(self, request, *args, **kwargs):
        """``lxc exec``: there is no process to run a command beside."""
        self._running("exec")

    @action(detail=True, methods=["get", "post", "delete"])
    def console(self, request, *args, **kwargs):
        """GET: the console log (empty once the instance started; none before, as in LXD);
        DELETE clears it; POST (``lxc console``) attaches."""
        if request.method == "POST":
            self._running("console")
        if self.get_object().last_used_at is None:
            raise exceptions.NotFound(_missing("console.log"))
        if request.method == "DELETE":
            return SyncResponse({})
        return _log_file("console.log")

    @action(detail=True, methods=["get"])
    def logs(self, request, *args, **kwargs):
        """The log files LXD lists for an instance."""
        instance = self.get_object()
        # LXD names them under /1.0/instances whichever prefix the request used.
        base = f"/1.0/instances/{escaped(instance.name)}/logs"
        return SyncResponse([f"{base}/{name}" for name in STANDING_LOGS])

    @action(detail=True, methods=["get", "delete"], url_path=r"logs/(?P<file>[^/]+)")
    def log(self, request, *args, file, **kwargs):
        """One log (``lxc info --show-log`` reads lxc.log); LXD's texts for a name it refuses."""
        self.get_object()
        if not _LOG_NAME.fullmatch(file):
            raise lxd_error(f"log file name {file} not valid")
        if request.method == "DELETE" and file in KEPT_LOGS:
            raise lxd_error("lxc.log and lxc.conf may not be deleted")
        if file not in STANDING_LOGS or request.method == "DELETE":
            raise exceptions.NotFound(_missing(file))
        return _log_file(file)


def _missing(name):
    """LXD's text for a log it has not written (without its host path)."""
    return f"{name}: no such file or directory"
