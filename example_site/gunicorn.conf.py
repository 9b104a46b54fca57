"""gunicorn settings of one web process of the example site's production profile.

Started by ``python -m example_site serve --production`` (``example_site/production.py``),
once per port, as::

    gunicorn -c example_site/gunicorn.conf.py --bind 127.0.0.1:8000 'example_site:create_app()'

Flask-SocketIO runs in threading mode here: gunicorn's threaded worker
(``gthread``) serves pages, and ``simple-websocket`` serves the websockets on
the same threads. Each open websocket holds one thread for as long as the tab
is open, so ``threads`` is the most agents' tabs (plus page requests) one
process takes. One worker per gunicorn: a Socket.IO connection lives in the
process that accepted it, and gunicorn cannot send a client back to the same
worker, so the profile scales by running more gunicorns on more ports behind
the load balancer, joined by the Redis message queue (docs/realtime.rst).
"""

from __future__ import annotations

import os

#: One process; scale out with more gunicorns, not more workers.
workers = 1
#: Threads, not greenlets: no monkey patching, and the helpdesk's own threads
#: (presence sweeper, Redis subscriber) stay ordinary threads.
worker_class = "gthread"
#: Each open websocket holds one thread (``--threads`` overrides).
threads = int(os.environ.get("EXAMPLE_SITE_THREADS", "100"))
#: Accepted connections waiting for a thread, at most.
worker_connections = 2 * threads
bind = [os.environ.get("EXAMPLE_SITE_BIND", "127.0.0.1:8000")]
#: The arbiter restarts a worker that stops beating for this long; a long
#: websocket does not count (the worker's main loop keeps beating).
timeout = 60
graceful_timeout = 10
keepalive = 5
#: Errors on stderr; no access log (one line per heartbeat poll adds up).
errorlog = "-"
loglevel = os.environ.get("EXAMPLE_SITE_LOG_LEVEL", "info")
proc_name = "example-site-web"
