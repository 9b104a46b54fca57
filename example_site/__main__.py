"""``python -m example_site``: prepare everything, then serve on 127.0.0.1:5000."""

from __future__ import annotations

import os

from flask_helpdesk import demo

from . import create_app
from . import socketio
from .commands import prepare


def main() -> None:
    app = create_app()
    prepare(app)
    host, port = "127.0.0.1", int(os.environ.get("PORT", "5000"))
    print(f"\n  Example site: http://{host}:{port}/")
    print(f"  Log in as {', '.join(t[0] for t in demo.TEAM)} (agents) or boss (not an agent)")
    print(f"  Password for every demo user: {app.config['DEMO_PASSWORD']}\n")
    # Flask-SocketIO serves pages and websockets; werkzeug is fine for a demo.
    socketio.run(app, host=host, port=port, debug=False, use_reloader=False,
                 allow_unsafe_werkzeug=True)


if __name__ == "__main__":
    main()
