"""gunicorn settings for the diary: `gunicorn -c deploy/gunicorn.conf.py app:app`.

Every setting can be changed from the environment (the systemd unit's
EnvironmentFile), so the file itself stays as shipped:

  DIARY_BIND          address to listen on (default 127.0.0.1:8000; the HTTPS proxy
                      in front of it is the only one that should reach it)
  DIARY_WEB_WORKERS   worker processes (default: 2 per core)
  DIARY_WEB_WORKER_CLASS  sync (default) or gthread (see below)
  DIARY_WEB_THREADS   threads per gthread worker (default 4)
  DIARY_WEB_WORKER_CONNECTIONS  connections one gthread worker may hold open (default 1000)
  DIARY_WEB_PRELOAD   1: load the app in the master before forking (default: in each worker)
  DIARY_WEB_MAX_REQUESTS  requests after which a worker is replaced (default 100000, +-10 %)
  DIARY_ACCESS_LOG    access log file, "-" for standard output (journald), empty for none

Sync workers, behind the HTTPS proxy the deployment guide prescribes (nginx): the
proxy holds the phones' connections, buffers slow uploads and answers, and hands
gunicorn one request per connection. Every worker then takes its next request from
the one queue of the listening socket, so whichever worker is free serves it; a
gthread worker serves the requests of the connections it once accepted, in its own
queue, and passes each request between its threads. bench/load.py, 220 check-ins/s
and 55 Today pages/s on this project's 2-core machine, the same 2 workers in turns:
check-in p95 42-157 ms with sync, 180-213 ms with gthread, for the same CPU per
request. gthread (DIARY_WEB_WORKER_CLASS=gthread) is for a server that clients reach
without such a proxy: its idle keep-alive connections do not each hold a process.
The scheduler never runs here: it is its own process (`flask --app app diary
scheduler`, deploy/diary-scheduler.service).
"""
import gc
import multiprocessing
import os
import socket

bind = os.environ.get("DIARY_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("DIARY_WEB_WORKERS") or 2 * multiprocessing.cpu_count())
worker_class = os.environ.get("DIARY_WEB_WORKER_CLASS") or "sync"
threads = int(os.environ.get("DIARY_WEB_THREADS") or 4)
# A cap keeps one worker from holding most keep-alive connections while the others
# sit idle: the first worker ready after a start accepted every waiting connection and
# served them alone (bench/load.py: 50 clients that keep their connections, one busy
# worker out of four).
worker_connections = int(os.environ.get("DIARY_WEB_WORKER_CONNECTIONS") or 1000)

# Each worker loads the app itself after the fork (no preloading), so that
# `systemctl reload` (HUP) starts workers on the new code while the old ones finish
# their requests. DIARY_WEB_PRELOAD=1 loads it once in the master instead (less
# memory, workers ready at once), but then new code needs a restart. Either way no
# database connection is shared across the fork: with preloading, post_fork empties
# each worker's copy of the pools (connections are opened lazily; the master opens none).
preload_app = os.environ.get("DIARY_WEB_PRELOAD") == "1"


def post_fork(server, worker):
    if not server.cfg.preload_app:
        return
    app = server.app.wsgi()
    if "sqlalchemy" not in getattr(app, "extensions", {}):
        return  # not the diary (bench/load.py serves a bare Flask app with this file)
    db = app.extensions["sqlalchemy"]
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)  # forget the parent's pool; never close its sockets


DEFER_ACCEPT_SECONDS = 30  # then the kernel hands the silent connection over anyway


def post_worker_init(worker):
    # A connection reaches the worker once its client has sent something. A sync worker
    # would wait on a connection that sends nothing yet (a browser's preconnect, a phone
    # on a slow network), and a gthread worker gives it a thread for up to 5 s; every
    # request queued behind it waited meanwhile (gthread, bench/load.py at 100
    # check-ins/s: max latency 357-409 ms; 22 ms since). The kernel holds such
    # connections instead (TCP_DEFER_ACCEPT, as nginx's "deferred"; Linux). Set on the
    # listeners each worker inherited: it survives a reload.
    if hasattr(socket, "TCP_DEFER_ACCEPT"):
        for listener in worker.sockets:
            if listener.FAMILY in (socket.AF_INET, socket.AF_INET6):
                listener.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT,
                                         DEFER_ACCEPT_SECONDS)
    # The app is loaded (modules, models, templates' environment: ~150,000 objects that
    # live as long as the worker). Frozen, the garbage collector's full passes skip them:
    # measured with bench/request_cpu.py, the longest pause went from 75 to 38 ms and the
    # full passes' total halved; in a worker, such a pause holds every queued request.
    gc.freeze()


# A request that takes longer than this is stuck: the worker is replaced.
timeout = 30
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then, so that a slow leak can never grow for weeks. Not often:
# a new worker spends about a second of CPU loading the app, and while it does, the
# connections of the old one wait (bench/load.py at 275 requests/s replaced a worker every
# 20 s with 5,000, and each replacement showed in the latency). A worker's memory settles
# (bench/load.py: +0.4 MB over 12,000 requests, the last 6,000 adding 30 kB).
max_requests = int(os.environ.get("DIARY_WEB_MAX_REQUESTS") or 100_000)
max_requests_jitter = max_requests // 10

# A check-in photo is at most 10 MB (MAX_CONTENT_LENGTH in diary/config.py);
# request lines and headers stay at gunicorn's safe defaults.
accesslog = os.environ.get("DIARY_ACCESS_LOG", "-") or None
errorlog = "-"
# The access log keeps method, path (without its query string), status, size and
# time: nothing a patient typed reaches it.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
proc_name = "diary-web"
