"""A worker-like process: customer messages ingested where no Socket.IO server runs.

``python -m tests.realtime.emit_worker DATABASE_URI QUEUE_URL CHANNEL TICKET_ID [COUNT]``
builds a host app without a ``SocketIO`` object, so the helpdesk emits through
its write-only ``SocketIO(message_queue=...)`` (what a dramatiq worker of a
host does), ingests COUNT messages from the ticket's customer onto the ticket
through the public service API, and prints one line per message:
``<external id> <time.time() of the ingest commit>``.
"""

from __future__ import annotations

import sys
import time
import uuid

import sqlalchemy as sa
from sqlalchemy import orm

from flask_helpdesk.channels import Identity
from flask_helpdesk.channels import InboundMessage
from flask_helpdesk.models import ContactIdentity
from flask_helpdesk.models import Ticket
from flask_helpdesk.services.inbound import ingest
from flask_helpdesk.testing import make_app


def main(database_uri: str, queue: str, channel: str, ticket_id: int, count: int = 1) -> None:
    app = make_app(database_uri=database_uri, config={
        "HELPDESK_SOCKETIO_MESSAGE_QUEUE": queue, "HELPDESK_SOCKETIO_CHANNEL": channel,
        "HELPDESK_SQLITE_TUNING": database_uri.startswith("sqlite")})
    committed: list[float] = []
    sa.event.listen(orm.Session, "after_commit", lambda _s: committed.append(time.time()))
    with app.app_context():
        db = app.extensions["sqlalchemy"]
        customer_id = db.session.get(Ticket, ticket_id).customer_id
        sender = db.session.scalars(sa.select(ContactIdentity).where(
            ContactIdentity.customer_id == customer_id).order_by(ContactIdentity.id)).first()
        for n in range(count):
            external_id = f"emit-worker-{uuid.uuid4().hex[:12]}"
            del committed[:]
            ingest(InboundMessage(channel="web", external_id=external_id,
                                  ticket_hint=ticket_id, subject="Any news?",
                                  sender=Identity(sender.kind, sender.value),
                                  text=f"Any news? ({n + 1})"))
            print(external_id, repr(committed[0]), flush=True)
            time.sleep(0.2)
        # the write-only emitter publishes synchronously: nothing left to flush


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]),
         int(sys.argv[5]) if len(sys.argv) > 5 else 1)
