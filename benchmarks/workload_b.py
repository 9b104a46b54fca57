"""The data of workload B (shared/bench/README.md): 100,000 tickets, inserted in bulk.

Distributions: groups support 40 %, tech 20 %, billing 15 %, sales 10 %,
returns 10 %, partners 5 %; created uniformly over 730 days; P(still open) =
0.03 + 0.7 * exp(-age_days / 60), 4 % of open tickets on hold; the rest
closed 60 % / resolved 35 % / spam 5 %; priority urgent 3 %, high 12 %,
normal 60 %, low 25 % (the peer's five levels, its two lowest as ``low``);
20 agents with a Zipf-like load; 30 % of open and 5 % of other tickets
unassigned; 10 % of tickets with 3-7 further messages; subjects and bodies
from a dozen support topics, en 85 %, ru 8 %, pt 7 %, the word "printer" in
about 3 % of tickets.

Rows go in with SQLAlchemy Core ``executemany``, the search documents are
built with the same function the services use, and the search index is
created after the load (one rebuild instead of 100,000 trigger runs).
"""

from __future__ import annotations

import datetime as dt
import math
import random
import typing as t

import sqlalchemy as sa
from sqlalchemy import insert
from sqlalchemy import text

from flask_helpdesk.models import Agent
from flask_helpdesk.models import ContactIdentity
from flask_helpdesk.models import Customer
from flask_helpdesk.models import Group
from flask_helpdesk.models import Message
from flask_helpdesk.models import SearchDocument
from flask_helpdesk.models import Ticket
from flask_helpdesk.models import agent_groups
from flask_helpdesk.models import metadata
from flask_helpdesk.schema import create_search_index
from flask_helpdesk.services.search import build_document

if t.TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.engine import Engine

GROUPS = (("support", 40), ("tech", 20), ("billing", 15), ("sales", 10), ("returns", 10),
          ("partners", 5))
AGENTS_PER_GROUP = {"support": 7, "tech": 4, "billing": 3, "sales": 2, "returns": 2,
                    "partners": 2}
NOW = dt.datetime(2026, 11, 22, 12, 0)

# topic -> language -> (subjects, bodies); "printer" is only in the printer topic.
TOPICS: dict[str, dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "login": {
        "en": (("Cannot log in", "Password reset does not arrive", "Account locked"),
               ("I tried to sign in three times and now my account is locked.",
                "The password reset email never arrives, I checked the spam folder.")),
        "ru": (("Не могу войти", "Не приходит письмо для сброса пароля"),
               ("Пытаюсь войти в личный кабинет, пишет неверный пароль.",)),
        "pt": (("Não consigo entrar", "Redefinição de senha"),
               ("Tentei entrar na minha conta e aparece senha inválida.",)),
    },
    "invoice": {
        "en": (("Wrong amount on invoice", "Invoice missing VAT number"),
               ("The invoice for last month shows the wrong amount, please correct it.",)),
        "ru": (("Ошибка в счёте", "Нужен счёт с НДС"),
               ("В счёте за прошлый месяц неверная сумма, исправьте пожалуйста.",)),
        "pt": (("Fatura com valor errado",), ("A fatura do mês passado está com valor errado.",)),
    },
    "delivery": {
        "en": (("Where is my order?", "Parcel not delivered"),
               ("My order was supposed to arrive on Monday, the tracking has not moved.",)),
        "ru": (("Где мой заказ?", "Посылка не доставлена"),
               ("Заказ должен был прийти в понедельник, трекинг не обновляется.",)),
        "pt": (("Onde está meu pedido?",), ("Meu pedido deveria chegar na segunda-feira.",)),
    },
    "refund": {
        "en": (("Refund request", "Money not returned"),
               ("I returned the item two weeks ago and still have not received a refund.",)),
        "ru": (("Возврат денег",), ("Вернул товар две недели назад, деньги так и не пришли.",)),
        "pt": (("Pedido de reembolso",), ("Devolvi o produto e ainda não recebi o reembolso.",)),
    },
    "app_crash": {
        "en": (("App crashes on start", "Mobile app freezes"),
               ("Since the last update the app crashes as soon as I open it.",)),
        "ru": (("Приложение вылетает",), ("После обновления приложение закрывается при запуске.",)),
        "pt": (("Aplicativo trava",), ("Depois da atualização o aplicativo fecha sozinho.",)),
    },
    "subscription": {
        "en": (("Cancel my subscription", "Upgrade plan"),
               ("Please cancel my subscription at the end of the billing period.",)),
        "ru": (("Отменить подписку",), ("Прошу отменить подписку с конца расчётного периода.",)),
        "pt": (("Cancelar assinatura",), ("Quero cancelar minha assinatura no fim do período.",)),
    },
    "api": {
        "en": (("API returns 500", "Webhook not firing"),
               ("Our integration gets HTTP 500 from the orders endpoint since this morning.",)),
    },
    "partner": {
        "en": (("Reseller discount", "Partner portal access"),
               ("We are a reseller and would like to discuss the partner discount.",)),
    },
    "damaged": {
        "en": (("Item arrived damaged", "Broken screen on arrival"),
               ("The box was crushed and the screen is cracked, photos attached.",)),
        "ru": (("Товар пришёл повреждённым",), ("Коробка помята, экран треснул, фото прилагаю.",)),
        "pt": (("Produto chegou danificado",), ("A caixa veio amassada e a tela está rachada.",)),
    },
    "address": {
        "en": (("Change delivery address",),
               ("I moved last week, please ship to my new address.",)),
    },
    "wifi": {
        "en": (("Router keeps disconnecting", "No internet since yesterday"),
               ("The router drops the connection every few minutes.",)),
        "ru": (("Роутер отключается",), ("Интернет пропадает каждые несколько минут.",)),
    },
    "printer": {
        "en": (("Printer not printing", "Printer driver error", "Printer offline"),
               ("The office printer shows offline although it is connected.",
                "After installing the new driver the printer prints blank pages.")),
    },
}
REPLIES = {
    "en": ("Thank you for contacting us, we are looking into it.",
           "Could you send us a screenshot of the error?", "It works now, thanks!"),
    "ru": ("Спасибо за обращение, разбираемся.", "Пришлите, пожалуйста, скриншот ошибки."),
    "pt": ("Obrigado pelo contato, estamos verificando.", "Pode enviar uma captura de tela?"),
}


class Counter:
    """Counts SQL statements sent on an engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self.n = 0
        sa.event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *args: t.Any) -> None:
        self.n += 1


def build(engine: Engine, *, tickets: int = 100_000, seed: int = 42) -> dict[str, t.Any]:
    """Create the tables and load the data; return ids the requests need."""
    from flask_helpdesk.migrations import stamp_head

    metadata.create_all(engine)
    stamp_head(engine)  # tables from the models are at head: the helpdesk serves them
    rng = random.Random(seed)
    with engine.begin() as conn:
        groups, agents = _people(conn, rng)
        customers = _customers(conn, rng, max(100, tickets // 3))
        info = _tickets(conn, rng, tickets, groups, agents, customers)
    create_search_index(engine)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            for table in ("helpdesk_groups", "helpdesk_agents", "helpdesk_customers",
                          "helpdesk_contact_identities", "helpdesk_tickets", "helpdesk_messages"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                                  f" (SELECT max(id) FROM {table}))"))
        if conn.dialect.name != "postgresql":
            conn.execute(text("ANALYZE"))
    if engine.dialect.name == "postgresql":
        # What autovacuum does to a live database soon after a bulk load: the
        # statistics, and the visibility map that keeps index-only scans
        # index-only (freshly loaded pages would each need a heap visit).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE)"))
    return {"groups": groups, "agents": agents, **info}


def _people(conn: Connection, rng: random.Random) -> tuple[dict[str, int], dict[str, list[int]]]:
    conn.execute(insert(Group), [{"id": i + 1, "name": name, "description": "",
                                  "created_at": NOW} for i, (name, _w) in enumerate(GROUPS)])
    groups = {name: i + 1 for i, (name, _w) in enumerate(GROUPS)}
    rows, links, agents = [], [], {}
    for name, count in AGENTS_PER_GROUP.items():
        agents[name] = []
        for _ in range(count):
            agent_id = len(rows) + 1
            rows.append({"id": agent_id, "user_id": str(agent_id), "name": f"Agent {agent_id}",
                         "email": f"agent{agent_id}@example.com", "role": "agent",
                         "language": None, "active": True, "created_at": NOW})
            links.append({"agent_id": agent_id, "group_id": groups[name]})
            agents[name].append(agent_id)
    conn.execute(insert(Agent), rows)
    conn.execute(insert(agent_groups), links)
    return groups, agents


FIRST = {"en": ("John", "Mary", "Alex", "Sam", "Kate"), "ru": ("Иван", "Ольга", "Пётр"),
         "pt": ("João", "Conceição", "António")}


def _customers(conn: Connection, rng: random.Random, n: int) -> list[tuple[int, str, str]]:
    out, rows, idents = [], [], []
    for i in range(1, n + 1):
        lang = _language(rng)
        name = f"{rng.choice(FIRST[lang])} {i}"
        email = f"customer{i}@example.org"
        rows.append({"id": i, "name": name, "notes": "", "attributes": {}, "created_at": NOW})
        idents.append({"id": i, "customer_id": i, "kind": "email", "value": email,
                       "display": email, "created_at": NOW})
        out.append((i, lang, email))
    for start in range(0, n, 5000):
        conn.execute(insert(Customer), rows[start:start + 5000])
        conn.execute(insert(ContactIdentity), idents[start:start + 5000])
    return out


def _language(rng: random.Random) -> str:
    r = rng.random()
    return "en" if r < 0.85 else "ru" if r < 0.93 else "pt"


def _zipf(rng: random.Random, ids: list[int]) -> int:
    return rng.choices(ids, weights=[1 / (k + 1) for k in range(len(ids))])[0]


def _tickets(conn: Connection, rng: random.Random, n: int, groups: dict[str, int],
             agents: dict[str, list[int]], customers: list[tuple[int, str, str]]
             ) -> dict[str, t.Any]:
    others = [k for k in TOPICS if k != "printer"]
    tickets, messages, docs = [], [], []
    multi: list[int] = []
    message_id = 0
    for ticket_id in range(1, n + 1):
        customer_id, lang, email = rng.choice(customers)
        if rng.random() < 0.03:
            topic, lang = "printer", "en"
        else:
            topic = rng.choice([k for k in others if lang in TOPICS[k]] or ["login"])
        subjects, bodies = TOPICS[topic].get(lang, TOPICS[topic]["en"])
        group = rng.choices([g for g, _w in GROUPS], weights=[w for _g, w in GROUPS])[0]
        age = rng.uniform(0, 730)
        created = NOW - dt.timedelta(days=age)
        is_open = rng.random() < 0.03 + 0.7 * math.exp(-age / 60)
        if is_open:
            status = "on_hold" if rng.random() < 0.04 else "open"
        else:
            status = rng.choices(("closed", "resolved", "spam"), weights=(60, 35, 5))[0]
        unassigned = rng.random() < (0.30 if is_open else 0.05)
        assignee = None if unassigned else _zipf(rng, agents[group])
        priority = rng.choices((3, 2, 1, 0), weights=(3, 12, 60, 25))[0]
        subject, body = rng.choice(subjects), rng.choice(bodies)
        extra = rng.randint(3, 7) if rng.random() < 0.10 else 0
        texts = [body]
        at = created
        last_customer = created
        message_id += 1
        messages.append(_message(message_id, ticket_id, "inbound", customer_id, None, body, at))
        for k in range(extra):
            at = min(NOW, at + dt.timedelta(hours=rng.uniform(1, 48)))
            inbound = k % 2 == 1
            reply_text = rng.choice(REPLIES.get(lang, REPLIES["en"]))
            reply_text = rng.choice(bodies) if inbound else reply_text
            message_id += 1
            messages.append(_message(message_id, ticket_id, "inbound" if inbound else "reply",
                                     customer_id if inbound else None,
                                     None if inbound else (assignee or agents[group][0]),
                                     reply_text, at))
            texts.append(reply_text)
            if inbound:
                last_customer = at
        if extra:
            multi.append(ticket_id)
        updated = at if not is_open else min(NOW, at + dt.timedelta(hours=rng.uniform(0, 72)))
        tickets.append({
            "id": ticket_id, "subject": subject, "status": status, "priority": priority,
            "channel": "email", "account": "", "customer_id": customer_id,
            "group_id": groups[group], "assignee_id": assignee, "created_at": created,
            "updated_at": updated, "status_changed_at": updated,
            "last_customer_message_at": last_customer, "last_agent_reply_at": None,
            "follow_up_of_id": None, "merged_into_id": None, "custom_fields": {},
        })
        docs.append({"ticket_id": ticket_id, "document": build_document([subject, email, *texts]),
                     "updated_at": updated})
        if len(tickets) >= 5000:
            _flush(conn, tickets, messages, docs)
    _flush(conn, tickets, messages, docs)
    return {"multi_message_tickets": multi, "messages": message_id}


def _message(message_id: int, ticket_id: int, kind: str, customer_id: int | None,
             agent_id: int | None, body: str, at: dt.datetime) -> dict[str, t.Any]:
    return {"id": message_id, "ticket_id": ticket_id, "kind": kind, "channel": "email",
            "account": "", "external_id": f"<{message_id}@bench.example>",
            "author_agent_id": agent_id, "author_customer_id": customer_id,
            "author_name": "", "subject": "", "text": body, "html": None, "created_at": at,
            "meta": {}, "delivery_state": "sent" if kind == "reply" else None, "attempts": 0,
            "last_error": None, "next_attempt_at": None, "sent_at": None}


def _flush(conn: Connection, *batches: list[dict[str, t.Any]]) -> None:
    tickets, messages, docs = batches
    if tickets:
        conn.execute(insert(Ticket), tickets)
        conn.execute(insert(Message), messages)
        conn.execute(insert(SearchDocument), docs)
    for batch in batches:
        batch.clear()
