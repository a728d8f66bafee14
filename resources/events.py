"""LXD's event stream (``/1.0/events``): what changed, sent to every listener on every worker.

LXD sends each event as one WebSocket text message: a JSON object with ``type``,
``timestamp``, ``metadata``, ``location`` and ``project`` (the project of the object or
operation; none for the server's own operations), newline-terminated. lxdsite sends
``operation`` events (an operation starting and ending) and ``lifecycle`` events (an object
created, updated, renamed or deleted), each once the transaction that made the change commits:

    emit_operation(operation)
    emit_lifecycle("profile-updated", "/1.0/profiles/p1", request=request)

Worker processes share events through a *feed*: Redis pub/sub when ``LXDSITE_REDIS_URL`` is
set, else the ``Event`` table, which each process polls for rows newer than the last it saw.
In each process one thread reads the feed while listeners are connected and hands every
message to them (``listen``); a listener of one project takes that project's events and those
of no project, as LXD's do.
"""

import contextlib
import datetime
import functools
import hmac
import json
import logging
import pwd
import queue
import threading
import time
from urllib.parse import parse_qs, unquote, urlsplit

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Q
from django.http import HttpResponse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.views.decorators.csrf import csrf_exempt

from .envelope import to_json_bytes
from .exceptions import error_envelope
from .go import go_quote, go_time
from .serializers import OperationSerializer
from .serving.wsgi_bridge import WEBSOCKET_KEY
from .trust import (
    LISTENER_KEY,
    PEER_UID_KEY,
    BearerTokenAuthentication,
    allowed_projects,
    client_fingerprint,
    trusted_certificate,
)

logger = logging.getLogger(__name__)

# The types LXD 5.0.2 accepts in ``/1.0/events?type=``; lxdsite has no logging events to send.
EVENT_TYPES = ("logging", "operation", "lifecycle")


# Emitting -------------------------------------------------------------------------------------


def emit(event_type, metadata, project):
    """Send an event of ``project`` ("": the server's) to every listener once the current
    transaction commits (at once outside one)."""
    publish = lambda: _feed_class().publish(event_type, _message(event_type, metadata, project))  # noqa: E731
    transaction.on_commit(publish, robust=True)


def emit_operation(operation):
    """An ``operation`` event: the operation as it is now (call it when it starts and when it ends)."""
    emit("operation", OperationSerializer(operation).data, _operation_project(operation))


def _operation_project(operation):
    """The project an operation's events name; none for the server's own (a project's rename)."""
    from .models import Project

    if operation.project_id is None:
        return ""
    # The default project's name is known without a query.
    return Project.DEFAULT_NAME if operation.project_id == Project.DEFAULT_ID else operation.project.name


def emit_lifecycle(action, source, *, context=None, request=None):
    """A ``lifecycle`` event, e.g. ``("profile-renamed", "/1.0/profiles/new", context={"old_name": "old"})``.

    ``request`` names who asked (LXD's ``requestor``). The event belongs to the project of its
    ``source``: the one its ``?project=`` names (an object outside the default project), or
    the project a ``/1.0/projects/NAME`` source is.
    """
    metadata = {"action": action, "source": source}
    if context:
        metadata["context"] = context
    if request is not None:
        metadata["requestor"] = requestor(request)
    emit("lifecycle", metadata, source_project(source))


def source_project(source):
    """The project of the object at URL ``source``, as LXD's lifecycle events name it."""
    from .models import Project

    parts = urlsplit(source)
    _, found, name = parts.path.partition("/1.0/projects/")
    if found and name and "/" not in name:
        return unquote(name)
    return next(iter(parse_qs(parts.query).get("project", [])), "") or Project.DEFAULT_NAME


def _message(event_type, metadata, project):
    """The text LXD sends for an event (without ``project`` when it has none, as LXD omits it)."""
    event = {
        "type": event_type,
        "timestamp": go_time(timezone.now()),
        "metadata": metadata,
        "location": "none",
    }
    if project:
        event["project"] = project
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n"


def message_header(message):
    """The project an event's text names ("" for none) and when it was sent (None if unreadable)."""
    try:
        event = json.loads(message)
        return event.get("project", ""), datetime.datetime.fromisoformat(event["timestamp"])
    except (ValueError, AttributeError, KeyError, TypeError):
        return "", None


def requestor(request):
    """Who made a request, as LXD's lifecycle events name them."""
    meta = request.META
    if meta.get(LISTENER_KEY) == "unix":
        # LXD names the user the connecting process runs as (SO_PEERCRED) and the address "@".
        uid = meta.get(PEER_UID_KEY)
        return {"username": "" if uid is None else _user_name(uid), "protocol": "unix", "address": "@"}
    address = meta.get("REMOTE_ADDR", "")
    if meta.get("REMOTE_PORT"):
        address = f"{address}:{meta['REMOTE_PORT']}"
    if trusted_certificate(request) is not None:
        # LXD names a TLS client by its certificate's fingerprint.
        return {"username": client_fingerprint(request), "protocol": "tls", "address": address}
    auth = getattr(request, "auth", None)
    if auth is not None:
        return {"username": auth.name, "protocol": "token", "address": address}
    user = getattr(request, "user", None)
    return {"username": user.get_username() if user else "", "protocol": "session", "address": address}


@functools.cache
def _user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


# Feeds: how events cross worker processes ---------------------------------------------------------


class DatabaseFeed:
    """Events through the ``Event`` table: publishing inserts a row, reading polls for newer rows.

    On PostgreSQL a row can commit after one with a higher id, so an id skipped over is
    looked for again for ``GAP_WAIT`` seconds. SQLite commits one writer at a time.
    """

    GAP_WAIT = 2.0
    MAX_GAP = 1000
    _last_prune = 0.0

    def __init__(self):
        from .models import Event

        self.closed = threading.Event()
        # Start after the newest event: a listener hears what happens after it connects.
        self.last_id = Event.objects.aggregate(last=Max("id"))["last"] or 0
        self.gaps = {}

    @classmethod
    def publish(cls, event_type, message):
        from .models import Event

        Event.objects.create(type=event_type, message=message)
        cls._prune()

    @classmethod
    def _prune(cls):
        """Delete rows older than ``LXDSITE_EVENTS_RETENTION``, at most once a second per process."""
        from .models import Event

        now = time.monotonic()
        if now - cls._last_prune < 1:
            return
        cls._last_prune = now
        cutoff = timezone.now() - datetime.timedelta(seconds=settings.LXDSITE_EVENTS_RETENTION)
        Event.objects.filter(created_at__lt=cutoff).delete()

    def read(self):
        """Wait one poll interval, then return the events committed since the last read."""
        from .models import Event

        if self.closed.wait(settings.LXDSITE_EVENTS_POLL_INTERVAL):
            return []
        try:
            rows = list(
                Event.objects.filter(Q(id__gt=self.last_id) | Q(id__in=list(self.gaps)))
                .order_by("id")
                .values_list("id", "type", "message")
            )
        finally:
            # A thread that waits between polls gives its connection back.
            connection.close()
        now = time.monotonic()
        for row_id, _type, _message in rows:
            if self.gaps.pop(row_id, None) is None and row_id > self.last_id:
                for missing in range(max(self.last_id + 1, row_id - self.MAX_GAP), row_id):
                    self.gaps[missing] = now + self.GAP_WAIT
                self.last_id = row_id
        self.gaps = {row_id: deadline for row_id, deadline in self.gaps.items() if deadline > now}
        return [(event_type, message) for _id, event_type, message in rows]

    def release(self):
        pass


class RedisFeed:
    """Events through Redis pub/sub on ``LXDSITE_REDIS_URL``: nothing is stored."""

    def __init__(self):
        self.closed = threading.Event()
        self.pubsub = _redis_client().pubsub()
        self.pubsub.subscribe(_redis_channel())
        # Subscribed once Redis confirms: from then on nothing published is missed.
        deadline = time.monotonic() + 5
        while (message := self.pubsub.get_message(timeout=1)) is None or message["type"] != "subscribe":
            if time.monotonic() > deadline:
                self.pubsub.close()
                raise ConnectionError("Redis did not confirm the events subscription")

    @staticmethod
    def publish(event_type, message):
        payload = f"{event_type}\n{message}"
        _redis_client().publish(_redis_channel(), f"{_signature(payload)}\n{payload}")

    def read(self):
        """The messages that arrive within one poll interval, signed by a worker of this server."""
        messages = []
        message = self.pubsub.get_message(timeout=settings.LXDSITE_EVENTS_POLL_INTERVAL)
        while message is not None:
            if message["type"] == "message":
                signature, _, payload = message["data"].decode(errors="replace").partition("\n")
                if hmac.compare_digest(signature, _signature(payload)):
                    event_type, _, text = payload.partition("\n")
                    messages.append((event_type, text))
                else:
                    logger.warning("Dropped an event on the Redis channel that no worker of this server signed")
            message = self.pubsub.get_message(timeout=0)
        return messages

    def release(self):
        self.pubsub.close()


@functools.cache
def _redis_channel():
    """This server's channel. Pub/sub ignores Redis's database number, so servers sharing a
    Redis are told apart by the database that holds their objects (all workers share it);
    keyed by the secret key, so that no other Redis client can name it."""
    database = settings.DATABASES["default"]
    identity = "\n".join(str(database.get(key, "")) for key in ("ENGINE", "NAME", "HOST", "PORT"))
    return "lxdsite:events:" + salted_hmac("lxdsite.events.channel", identity, algorithm="sha256").hexdigest()[:32]


def _signature(payload):
    """What proves a message on the channel came from a worker of this server (one secret key):
    Redis lets any client that reaches it publish."""
    return salted_hmac("lxdsite.events.message", payload, algorithm="sha256").hexdigest()


@functools.cache
def _redis_client():
    """One client (a connection pool) per process; redis-py opens new connections after a fork."""
    import redis

    return redis.Redis.from_url(settings.LXDSITE_REDIS_URL)


def _feed_class():
    return RedisFeed if settings.LXDSITE_REDIS_URL else DatabaseFeed


# Listening ------------------------------------------------------------------------------------


class Listener:
    """One ``/1.0/events`` client's queue of messages, of the types it asked for.

    ``project`` is the project whose events it takes (and those of no project: the server's
    own operations), as LXD's listeners do; None takes every project's (``all-projects``).
    ``on_message``, when set, is called (on the feed's thread) after messages are queued.
    """

    def __init__(self, types, project=None):
        self.types = frozenset(types)
        self.project = project
        # A listener hears what is sent after it connects, as LXD's do: the feed it shares may
        # still hold events sent before (read on its next poll).
        self.since = timezone.now()
        self._queue = queue.SimpleQueue()
        self.on_message = None

    def deliver(self, messages):
        """Queue those of ``messages`` (``(type, project, time sent, text)``) this listener takes."""
        queued = False
        for event_type, project, sent, message in messages:
            if sent is not None and sent < self.since:
                continue
            if event_type in self.types and (self.project is None or project in ("", self.project)):
                self._queue.put(message)
                queued = True
        if queued and self.on_message is not None:
            self.on_message()

    def drain(self):
        """Every message queued so far, without waiting."""
        messages = []
        with contextlib.suppress(queue.Empty):
            while True:
                messages.append(self._queue.get_nowait())
        return messages

    def close(self):
        """Stop receiving: the process stops reading the feed with its last listener."""
        _hub.unsubscribe(self)

    def get(self, timeout):
        """The next message, or None after ``timeout`` seconds."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None


class _Hub:
    """The process's listeners and the one thread that reads the feed while there are any."""

    def __init__(self):
        self._lock = threading.Lock()
        self._listeners = set()
        self._feed = None

    def subscribe(self, types, project):
        listener = Listener(types, project)
        with self._lock:
            if self._feed is None:
                # Opened here, before the client is answered, so it misses nothing after that.
                self._feed = _feed_class()()
                threading.Thread(target=self._run, args=(self._feed,), name="lxdsite-events", daemon=True).start()
            self._listeners.add(listener)
        return listener

    def unsubscribe(self, listener):
        with self._lock:
            self._listeners.discard(listener)
            if not self._listeners and self._feed is not None:
                self._feed.closed.set()
                self._feed = None

    def _run(self, feed):
        try:
            while not feed.closed.is_set():
                try:
                    messages = feed.read()
                except Exception:
                    logger.exception("Reading the events feed failed")
                    feed.closed.wait(1)
                    continue
                with self._lock:
                    listeners = list(self._listeners) if feed is self._feed else []
                if listeners:
                    # Each message's project and time, read once for every listener.
                    messages = [(event_type, *message_header(text), text) for event_type, text in messages]
                for listener in listeners:
                    listener.deliver(messages)
        finally:
            feed.release()


_hub = _Hub()


def open_listener(types=EVENT_TYPES, project=None):
    """A ``Listener`` that receives every event of ``types`` (of ``project``, None: of every
    project) emitted by any worker until closed."""
    return _hub.subscribe(types, project)


@contextlib.contextmanager
def listen(types=EVENT_TYPES, project=None):
    """A ``Listener`` that receives every event of ``types`` (of ``project``, None: of every
    project) emitted by any worker until the block ends."""
    listener = open_listener(types, project)
    try:
        yield listener
    finally:
        listener.close()


# The WebSocket ----------------------------------------------------------------------------------


def _error(code, message):
    return HttpResponse(to_json_bytes(error_envelope(code, message)), status=code, content_type="application/json")


def _trust_of(request):
    """Who may listen: the unix socket (for good), or TCP with a trusted client certificate (a
    restricted one to a project of its own) or an API token (while it exists).

    Returns (trusted, still_trusted): the second, when not None, reads whether the certificate
    or token still exists, for the stream to ask again later.
    """
    if request.META.get(LISTENER_KEY) == "unix":
        return True, None
    certificate = trusted_certificate(request)
    if certificate is not None:
        if certificate.restricted and (
            _listened_name(request) not in allowed_projects(certificate) or "all-projects" in request.GET
        ):
            return False, None
        certificate_id, restricted = certificate.pk, certificate.restricted

        def still_trusted_certificate():
            from .models import Certificate

            return Certificate.objects.filter(pk=certificate_id, restricted=restricted).exists()

        return True, still_trusted_certificate
    authenticated = BearerTokenAuthentication().authenticate(request)
    if authenticated is None:
        return False, None
    token_id = authenticated[1].pk

    def still_trusted():
        from .models import APIToken

        return APIToken.objects.filter(pk=token_id).exists()

    return True, still_trusted


def _listened_name(request):
    """The project name a listener's query names (``default`` when none)."""
    return next(iter(request.GET.getlist("project")), "") or "default"


def _listened_project(request):
    """The project a listener names (None: every project, ``all-projects``), or LXD's refusal of
    it as a response (LXD answers both with 500: the client's errors)."""
    from .models import Project

    project = next(iter(request.GET.getlist("project")), "")
    every = next(iter(request.GET.getlist("all-projects")), "").lower() in ("true", "1", "yes", "on")
    if not project:
        return None if every else Project.DEFAULT_NAME
    if every:
        return _error(400, "Cannot specify a project when requesting all projects")
    if project != Project.DEFAULT_NAME and not Project.objects.filter(name=project).exists():
        return _error(404, "Project not found")
    return project


# Not a form a browser session posts: writes answer LXD's 501, not Django's CSRF page.
@csrf_exempt
def events(request):
    """``GET /1.0/events?type=operation,lifecycle``: LXD's events as WebSocket text messages.

    The view decides and subscribes; the server streams the messages from its event loop
    (``resources/serving/websocket.py``), so a listener holds no thread.
    """
    if request.method not in ("GET", "HEAD"):
        # LXD's answer for a method an endpoint does not have (it never sends 405).
        return _error(501, "not implemented")
    trusted, still_trusted = _trust_of(request)
    if not trusted:
        return _error(403, "not authorized")
    project = _listened_project(request)
    if isinstance(project, HttpResponse):
        return project
    types = request.GET.get("type", "")
    types = types.split(",") if types else EVENT_TYPES
    for event_type in types:
        if event_type not in EVENT_TYPES:
            # LXD's text; LXD answers 500, but it is the client's error.
            return _error(400, f"{go_quote(event_type)} isn't a supported event type")
    handover = request.META.get(WEBSOCKET_KEY)
    if handover is None:
        return _error(400, "Missing websocket upgrade")
    # Subscribed before the client is answered: it misses nothing after that.
    handover.accept(open_listener(types, project), still_trusted)
    return HttpResponse(status=101)
