"""``python -m example_site``: prepare everything, then serve on 127.0.0.1:5000.

``python -m example_site serve --production`` runs the production profile
instead (:mod:`example_site.production`): several gunicorn web processes, a
dramatiq worker and a scheduler, sharing Redis.
"""

from __future__ import annotations

import argparse
import os
import sys

from flask_helpdesk import demo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m example_site")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="serve the site (the default)")
    serve.add_argument("--production", action="store_true",
                       help="gunicorn web processes, a worker and a scheduler on Redis")
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")),
                       help="port (the first web process's, with --production)")
    serve.add_argument("--web", type=int, default=2, help="web processes (--production)")
    serve.add_argument("--threads", type=int, default=100,
                       help="threads per web process, one per open websocket (--production)")
    serve.add_argument("--redis", default=None, help="Redis URL for broker, message queue"
                       " and presence (--production; default redis://127.0.0.1:6379/0)")
    args = parser.parse_args(argv)
    if args.command == "serve" and args.production:
        from .production import DEFAULT_REDIS
        from .production import serve as serve_production

        return serve_production(port=args.port, web=args.web, threads=args.threads,
                                redis_url=args.redis or DEFAULT_REDIS)
    port = args.port if args.command == "serve" else int(os.environ.get("PORT", "5000"))
    _serve_embedded(port)
    return 0


def _serve_embedded(port: int) -> None:
    """One process: werkzeug, the in-process worker, presence in memory."""
    from . import create_app
    from . import socketio
    from .commands import prepare

    app = create_app()
    prepare(app)
    host = "127.0.0.1"
    print(f"\n  Example site: http://{host}:{port}/")
    print(f"  Log in as {', '.join(t[0] for t in demo.TEAM)} (agents) or boss (not an agent)")
    print(f"  Password for every demo user: {app.config['DEMO_PASSWORD']}\n")
    # Flask-SocketIO serves pages and websockets; werkzeug is fine for a demo.
    socketio.run(app, host=host, port=port, debug=False, use_reloader=False,
                 allow_unsafe_werkzeug=True)


if __name__ == "__main__":
    sys.exit(main())
