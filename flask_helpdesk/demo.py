"""Demo data: a support team with three months of realistic tickets.

:func:`generate` fills an empty helpdesk through the public services, so every
ticket has a real history: customers write in (ingest on the ``web``
channel), first line triages, hands billing and technical questions over with
an internal note, agents reply, customers answer back, duplicates are merged,
old tickets are resolved and closed. A simulated clock dates every row, so the
history reads as if it happened over the last ``days`` days.

The module is longer than most because it carries its own sample texts in
English, Russian and Portuguese.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import heapq
import random
import time
import typing as t

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from .channels import Identity
from .channels import InboundMessage
from .errors import HelpdeskError
from .extension import get_state
from .models import Agent
from .models import Message
from .models import Ticket
from .models import TicketEvent
from .models import utcnow
from .plugins import hookimpl
from .services import SYSTEM
from .services import TicketChanges
from .services import agents as agent_service
from .services import customers as customer_service
from .services import inbound
from .services import messages
from .services import outbox
from .services import templates as template_service
from .services import tickets
from .services import transaction
from .services import views

#: Groups of the demo team: (name, description).
GROUPS: tuple[tuple[str, str], ...] = (
    ("First line support", "Every new request lands here first."),
    ("Billing", "Payments, refunds, invoices and plans."),
    ("Tech", "Bugs, integrations, the API and the apps."),
)

#: The demo team: (login, name, role, group indexes, language). The login is
#: the agent's ``user_id``; the example site has a host user of that name.
TEAM: tuple[tuple[str, str, str, tuple[int, ...], str], ...] = (
    ("admin", "Ada Admin", "admin", (0, 1, 2), "en"),
    ("manager", "Max Manager", "manager", (0, 1), "en"),
    ("anna", "Anna Smith", "agent", (0,), "en"),
    ("boris", "Boris Petrov", "agent", (1,), "ru"),
    ("chen", "Chen Wei", "agent", (2,), "en"),
    ("daria", "Daria Ivanova", "agent", (0,), "ru"),
    ("eduardo", "Eduardo Silva", "agent", (0, 2), "pt_BR"),
    ("fiona", "Fiona Walsh", "agent", (1, 2), "en"),
)

_NAMES = {
    "en": (["Emma", "Liam", "Olivia", "Noah", "Ava", "James", "Sophia", "Lucas", "Mia", "Ethan",
            "Grace", "Henry", "Chloe", "Jack", "Ruby"],
           ["Johnson", "Brown", "Taylor", "Miller", "Wilson", "Moore", "Clark", "Hall", "Young",
            "King", "Wright", "Scott", "Green", "Baker", "Adams"]),
    "ru": (["Ольга:olga", "Иван:ivan", "Мария:maria", "Алексей:alexey", "Елена:elena",
            "Дмитрий:dmitry", "Анна:anna", "Сергей:sergey", "Наталья:natalia", "Павел:pavel"],
           ["Смирнова:smirnova", "Кузнецов:kuznetsov", "Попова:popova", "Соколов:sokolov",
            "Лебедева:lebedeva", "Новиков:novikov", "Морозова:morozova", "Волков:volkov"]),
    "pt": (["Ana", "João", "Beatriz", "Pedro", "Camila", "Lucas", "Mariana", "Rafael",
            "Juliana", "Gabriel"],
           ["Silva", "Santos", "Oliveira", "Souza", "Costa", "Pereira", "Almeida", "Ferreira"]),
}

_DOMAINS = ("example.com", "example.org", "example.net", "mail.example", "inbox.example")


@dataclasses.dataclass(frozen=True)
class _Topic:
    group: int
    tags: tuple[str, ...]
    priority: tuple[int, int, int, int]  # weights of low, normal, high, urgent
    texts: dict[str, tuple[str, str, str, str]]  # lang -> subject, body, follow-up, reply


_TOPICS: tuple[_Topic, ...] = (
    _Topic(0, ("login", "account"), (2, 6, 2, 0), {
        "en": ("Can't log in to my account", "Hi, since yesterday I cannot log in. It says my "
               "password is wrong but I just reset it. My username is {email}.",
               "Still doesn't work, I tried in another browser too.",
               "Hello {name}, I have sent you a new password reset link. Please open it within "
               "an hour and clear the browser cache before logging in."),
        "ru": ("Не могу войти в аккаунт", "Здравствуйте! Со вчерашнего дня не могу войти, пишет "
               "неверный пароль, хотя я его только что сбросил. Логин {email}.",
               "Всё равно не работает, пробовал в другом браузере.",
               "Здравствуйте, {name}! Отправили вам новую ссылку для сброса пароля. Откройте её в "
               "течение часа и очистите кэш браузера перед входом."),
        "pt": ("Não consigo entrar na minha conta", "Olá, desde ontem não consigo entrar. Diz "
               "que a senha está errada, mas acabei de redefini-la. Meu usuário é {email}.",
               "Continua sem funcionar, tentei em outro navegador também.",
               "Olá {name}, enviei um novo link para redefinir a senha. Abra em até uma hora e "
               "limpe o cache do navegador antes de entrar."),
    }),
    _Topic(1, ("refund",), (1, 6, 3, 0), {
        "en": ("Refund for order {order}", "I cancelled order {order} within the trial but was "
               "charged {amount}. Please refund it.", "Any news on my refund?",
               "Hi {name}, the refund of {amount} for order {order} is approved. It will reach "
               "your card in 5 to 10 business days."),
        "ru": ("Возврат по заказу {order}", "Я отменил заказ {order} в пробный период, но с "
               "меня списали {amount}. Верните, пожалуйста, деньги.", "Есть новости по возврату?",
               "{name}, добрый день! Возврат {amount} по заказу {order} одобрен, деньги придут "
               "на карту в течение 5–10 рабочих дней."),
        "pt": ("Reembolso do pedido {order}", "Cancelei o pedido {order} durante o teste, mas "
               "fui cobrado {amount}. Por favor, façam o reembolso.", "Alguma novidade sobre o "
               "reembolso?", "Olá {name}, o reembolso de {amount} do pedido {order} foi "
               "aprovado. O valor volta ao cartão em 5 a 10 dias úteis."),
    }),
    _Topic(1, ("payment", "double-charge"), (0, 3, 5, 2), {
        "en": ("Charged twice this month", "My card was charged {amount} twice on the same day. "
               "Please fix this, it's the second time.", "I attached the bank statement, see "
               "the two identical lines.", "Hi {name}, you are right: the second charge was a "
               "duplicate. I have voided it, the bank will release it shortly."),
        "ru": ("Двойное списание", "С карты дважды списали {amount} в один день. Исправьте, "
               "пожалуйста, это уже второй раз.", "Прикладываю выписку из банка, там две "
               "одинаковые строки.", "{name}, вы правы: второе списание ошибочное. Мы его "
               "отменили, банк вернёт средства в ближайшее время."),
        "pt": ("Cobrança em duplicidade", "Meu cartão foi cobrado {amount} duas vezes no mesmo "
               "dia. Corrijam por favor, é a segunda vez.", "Segue o extrato do banco com as "
               "duas linhas iguais.", "Olá {name}, a segunda cobrança foi mesmo duplicada. "
               "Cancelamos e o banco deve liberar o valor em breve."),
    }),
    _Topic(1, ("invoice",), (4, 5, 1, 0), {
        "en": ("Invoice with VAT number", "Could you send the invoice for {order} with our "
               "company VAT number? Our accountant needs it by Friday.", "The VAT number is "
               "GB123456789, sorry I forgot.", "Hi {name}, the corrected invoice for {order} is "
               "now in your account under Billing > Invoices."),
        "ru": ("Счёт с реквизитами компании", "Пришлите, пожалуйста, счёт по заказу {order} с "
               "реквизитами нашей компании, бухгалтерии нужно до пятницы.", "ИНН 7701234567, "
               "забыл указать.", "{name}, исправленный счёт по заказу {order} доступен в "
               "личном кабинете в разделе «Оплата»."),
        "pt": ("Nota fiscal com CNPJ", "Podem enviar a nota do pedido {order} com o CNPJ da "
               "empresa? O contador precisa até sexta.", "O CNPJ é 12.345.678/0001-90, "
               "esqueci de mandar.", "Olá {name}, a nota corrigida do pedido {order} já está "
               "na sua conta em Faturamento."),
    }),
    _Topic(2, ("bug", "mobile"), (0, 4, 5, 1), {
        "en": ("App crashes on start", "The app crashes right after the splash screen on my "
               "{device}. I reinstalled it twice.", "Version 4.2.1, it started after the last "
               "update.", "Hi {name}, thanks for the details. Version 4.2.2 fixes this crash; "
               "please update from the store and let us know."),
        "ru": ("Приложение вылетает при запуске", "Приложение закрывается сразу после заставки "
               "на {device}. Переустанавливал дважды.", "Версия 4.2.1, началось после "
               "обновления.", "{name}, спасибо за подробности. В версии 4.2.2 это исправлено, "
               "обновите приложение и напишите, помогло ли."),
        "pt": ("O app fecha ao abrir", "O aplicativo fecha logo depois da tela inicial no meu "
               "{device}. Já reinstalei duas vezes.", "Versão 4.2.1, começou depois da última "
               "atualização.", "Olá {name}, obrigado pelos detalhes. A versão 4.2.2 corrige "
               "isso; atualize pela loja e nos avise."),
    }),
    _Topic(2, ("api", "bug"), (0, 2, 5, 3), {
        "en": ("API returns 500 on /orders", "Since this morning every POST to /v2/orders "
               "returns HTTP 500. Our checkout is down!", "Request id req_8f2a, happens every "
               "time.", "Hi {name}, an incident on our side caused the errors; it is fixed "
               "since 14:20 UTC. Sorry for the trouble."),
        "ru": ("API отдаёт 500 на /orders", "С утра каждый POST на /v2/orders возвращает "
               "ошибку 500. У нас не работает оформление заказов!", "Идентификатор запроса "
               "req_8f2a, воспроизводится всегда.", "{name}, ошибки были вызваны инцидентом на "
               "нашей стороне, с 14:20 UTC всё исправлено. Приносим извинения."),
        "pt": ("API retorna 500 em /orders", "Desde cedo todo POST em /v2/orders retorna "
               "HTTP 500. Nosso checkout parou!", "Request id req_8f2a, acontece sempre.",
               "Olá {name}, um incidente do nosso lado causou os erros; está resolvido desde "
               "14:20 UTC. Desculpe o transtorno."),
    }),
    _Topic(0, ("shipping",), (2, 6, 2, 0), {
        "en": ("Where is my order {order}?", "Order {order} was supposed to arrive on Monday "
               "and the tracking hasn't changed for a week.", "Still nothing, can you check "
               "with the courier?", "Hi {name}, the courier confirmed a delay at the sorting "
               "centre; your parcel is out for delivery tomorrow."),
        "ru": ("Где мой заказ {order}?", "Заказ {order} должен был прийти в понедельник, а "
               "трекинг не меняется уже неделю.", "Всё ещё ничего, уточните у курьерской "
               "службы?", "{name}, служба доставки подтвердила задержку на сортировке, "
               "посылку доставят завтра."),
        "pt": ("Cadê meu pedido {order}?", "O pedido {order} deveria chegar na segunda e o "
               "rastreio não muda há uma semana.", "Ainda nada, podem verificar com a "
               "transportadora?", "Olá {name}, a transportadora confirmou atraso no centro de "
               "distribuição; a entrega sai amanhã."),
    }),
    _Topic(1, ("subscription",), (3, 6, 1, 0), {
        "en": ("Switch to the annual plan", "How do I switch from the monthly to the annual "
               "plan? Do I lose the remaining days?", "OK, and is the discount still 20%?",
               "Hi {name}, I switched you to the annual plan; the unused days were credited, "
               "so you pay {amount} less."),
        "ru": ("Переход на годовой тариф", "Как перейти с месячного тарифа на годовой? "
               "Оставшиеся дни сгорят?", "Понятно, а скидка всё ещё 20%?", "{name}, перевели "
               "вас на годовой тариф, неиспользованные дни зачтены, к оплате на {amount} "
               "меньше."),
        "pt": ("Mudar para o plano anual", "Como mudo do plano mensal para o anual? Perco os "
               "dias restantes?", "Certo, e o desconto ainda é de 20%?", "Olá {name}, mudei "
               "você para o plano anual; os dias não usados viraram crédito de {amount}."),
    }),
    _Topic(0, ("feature-request",), (6, 3, 0, 0), {
        "en": ("Export reports to CSV?", "Is there a way to export the monthly report to CSV? "
               "We need it for our BI tool.", "Even a scheduled email with a CSV would do.",
               "Hi {name}, not yet, but I passed your request to the product team. Meanwhile "
               "the API's /reports endpoint returns the same data."),
        "ru": ("Экспорт отчётов в CSV?", "Можно ли выгрузить месячный отчёт в CSV? Нужно для "
               "нашей BI-системы.", "Подойдёт даже письмо с CSV по расписанию.", "{name}, пока "
               "нет, но мы передали пожелание команде продукта. Те же данные отдаёт метод API "
               "/reports."),
        "pt": ("Exportar relatórios em CSV?", "Dá para exportar o relatório mensal em CSV? "
               "Precisamos para o BI.", "Um e-mail agendado com o CSV também serve.", "Olá "
               "{name}, ainda não, mas passei o pedido ao time de produto. Enquanto isso, o "
               "endpoint /reports da API traz os mesmos dados."),
    }),
    _Topic(2, ("sync",), (1, 5, 3, 1), {
        "en": ("Data not syncing between devices", "Notes I add on my laptop don't show up "
               "on my {device}. Sync says 'up to date'.", "I logged out and in, no change.",
               "Hi {name}, your account had a stuck sync token; I reset it. Please open the app "
               "on both devices and wait a minute."),
        "ru": ("Данные не синхронизируются", "Заметки с ноутбука не появляются на {device}, "
               "хотя синхронизация пишет «актуально».", "Выходил и заходил снова, не помогло.",
               "{name}, у вашего аккаунта завис токен синхронизации, мы его сбросили. Откройте "
               "приложение на обоих устройствах и подождите минуту."),
        "pt": ("Dados não sincronizam", "As notas do notebook não aparecem no meu {device}. A "
               "sincronização diz 'atualizado'.", "Saí e entrei de novo, nada mudou.", "Olá "
               "{name}, sua conta tinha um token de sincronização travado; já reiniciei. Abra o "
               "app nos dois aparelhos e aguarde um minuto."),
    }),
    _Topic(0, ("privacy", "account"), (2, 6, 2, 0), {
        "en": ("Please delete my account", "Please delete my account and all my data "
               "(GDPR).", "Can you confirm when it's done?", "Hi {name}, your account and data "
               "will be erased within 30 days; you'll get an email when it is done."),
        "ru": ("Удалите мой аккаунт", "Прошу удалить мой аккаунт и все мои данные.",
               "Подтвердите, пожалуйста, когда удалите.", "{name}, аккаунт и данные будут "
               "удалены в течение 30 дней, мы пришлём письмо, когда всё будет готово."),
        "pt": ("Excluir minha conta", "Por favor, excluam minha conta e todos os meus dados "
               "(LGPD).", "Podem confirmar quando estiver feito?", "Olá {name}, sua conta e "
               "seus dados serão apagados em até 30 dias; avisaremos por e-mail."),
    }),
    _Topic(2, ("2fa", "account"), (0, 3, 6, 1), {
        "en": ("Lost phone, can't pass two-factor", "I lost my phone and can't get the 2FA "
               "code. I don't have the backup codes.", "I can send a photo of my ID if needed.",
               "Hi {name}, after verifying your identity I disabled two-factor on your account; "
               "please set it up again on the new phone."),
        "ru": ("Потерял телефон, не проходит 2FA", "Потерял телефон и не могу получить код "
               "двухфакторной аутентификации. Резервных кодов нет.", "Могу прислать фото "
               "паспорта, если нужно.", "{name}, мы проверили вашу личность и отключили "
               "двухфакторную аутентификацию. Настройте её заново на новом телефоне."),
        "pt": ("Perdi o celular e não passo no 2FA", "Perdi o celular e não consigo o código "
               "de dois fatores. Não tenho os códigos de backup.", "Posso enviar foto do "
               "documento se precisar.", "Olá {name}, após verificar sua identidade desativei "
               "o 2FA; configure de novo no celular novo."),
    }),
)

_CLOSING = {
    "en": "Glad it's sorted, {name}. I'll close this ticket; just reply if anything comes up.",
    "ru": "Рады, что всё решилось, {name}. Закрываю обращение, если что — просто ответьте.",
    "pt": "Que bom que resolveu, {name}. Vou encerrar o chamado; é só responder se precisar.",
}
_THANKS = {"en": "Thanks, that worked!", "ru": "Спасибо, всё заработало!",
           "pt": "Obrigado, funcionou!"}
_HANDOVER = (
    "Customer asks about {topic}; please take over. Account checked, nothing unusual.",
    "Needs {group}: I can't see the payment details from first line.",
    "Escalating to {group}, customer is waiting since this morning.",
)
_NOTES = (
    "Checked the logs: same error as last week's incident.",
    "VIP customer, keep them updated.",
    "Asked billing in chat, they confirm the charge went through twice.",
    "Known issue, linked to the release notes draft.",
    "Called the customer, no answer; will try again tomorrow.",
)
_SPAM = ("Cheap followers, 10000 for $5!!!", "You won a prize, claim now",
         "SEO services for your website")
#: Steps of ticket lives committed together.
BATCH = 100

_DEVICES = ("iPhone 13", "Pixel 7", "Galaxy S22", "iPad", "Xiaomi Redmi Note 12")


class _Clock:
    """A simulated clock: every timestamp the services stamp with "now" gets :attr:`now`."""

    def __init__(self, real_start: dt.datetime, present: dt.datetime) -> None:
        self.real_start = real_start
        #: The demo's "now": the history ends just before it.
        self.present = present
        self.now = real_start

    def before_flush(self, session: t.Any, flush_context: t.Any, instances: t.Any) -> None:
        for obj in (*session.new, *session.dirty):
            state = sa.inspect(obj)
            for attr in state.mapper.column_attrs:
                value = state.dict.get(attr.key)
                if isinstance(value, dt.datetime) and value >= self.real_start:
                    setattr(obj, attr.key, self.now)


@contextlib.contextmanager
def _simulated_clock(present: dt.datetime | None) -> t.Iterator[_Clock]:
    session = get_state().db.session()
    real_start = utcnow() - dt.timedelta(seconds=1)
    clock = _Clock(real_start, present or real_start)
    sa.event.listen(session, "before_flush", clock.before_flush)
    try:
        yield clock
    finally:
        sa.event.remove(session, "before_flush", clock.before_flush)


class _Outbox:
    """A plugin noting the demo's replies, so the demo delivers them itself.

    Replies are delivered right after their batch commits, with the clock set
    just after each reply was written. Deliveries made by any other worker are
    noted too, and dated afterwards by :func:`_settle`.
    """

    def __init__(self) -> None:
        self.queued: list[tuple[int, dt.datetime]] = []  # (message id, replied at)
        self.delivered_elsewhere: list[tuple[int, int]] = []  # (event id, message id)
        self.mine: set[int] = set()

    @hookimpl
    def helpdesk_ticket_event(self, event: t.Any) -> None:
        if event.type == "message.replied" and event.data.get("delivery") == "queued":
            self.queued.append((int(event.data["message_id"]), event.at))
        elif event.type == "message.delivered" and event.data["message_id"] not in self.mine:
            self.delivered_elsewhere.append((event.id, int(event.data["message_id"])))

    def deliver(self, clock: _Clock) -> None:
        for message_id, replied_at in self.queued:
            clock.now = replied_at + dt.timedelta(seconds=20)
            self.mine.add(message_id)
            outbox.deliver(message_id)
        self.queued.clear()


@contextlib.contextmanager
def _fewer_fsyncs() -> t.Iterator[None]:
    """On SQLite, write the demo with ``synchronous=NORMAL``.

    In WAL mode that syncs at checkpoints instead of at each of the demo's
    thousands of commits; a crash can lose the last commits but never
    corrupts the file (and demo data can be made again). The helpdesk's own
    default stays ``FULL``: a committed ticket survives a power cut.
    """
    engine = get_state().db.engine
    if engine.dialect.name != "sqlite":
        yield
        return

    def normal(dbapi_connection: t.Any, _record: t.Any, _proxy: t.Any) -> None:
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    get_state().db.session.remove()
    sa.event.listen(engine, "checkout", normal)
    try:
        yield
    finally:
        get_state().db.session.remove()
        sa.event.remove(engine, "checkout", normal)
        engine.dispose()  # pooled connections come back with the default


@contextlib.contextmanager
def _no_embedded_worker() -> t.Iterator[None]:
    """Keep an idle embedded worker from starting while the demo writes.

    The demo delivers its own replies; a worker thread would only fight it for
    SQLite's single write lock. Jobs sent meanwhile wait in the in-memory
    broker and find their replies already sent when a worker starts.
    """
    jobs = get_state().jobs
    pause = jobs.embedded and jobs.worker is None
    if pause:
        jobs.embedded = False
    try:
        yield
    finally:
        if pause:
            jobs.embedded = True


def _pick(rng: random.Random, weights: t.Sequence[int]) -> int:
    return rng.choices(range(len(weights)), weights=weights)[0]


def _person(rng: random.Random, lang: str, n: int) -> tuple[str, str]:
    firsts, lasts = _NAMES[lang]
    first, last = rng.choice(firsts), rng.choice(lasts)
    first_name, first_key = (first.split(":") + [first])[:2]
    last_name, last_key = (last.split(":") + [last])[:2]
    local = f"{first_key}.{last_key}".lower().encode("ascii", "ignore").decode() or "client"
    return f"{first_name} {last_name}", f"{local}{n}@{rng.choice(_DOMAINS)}"


def _create_team(groups: int, team_size: int) -> tuple[list[t.Any], list[Agent]]:
    made_groups = []
    for i in range(groups):
        name, description = GROUPS[i] if i < len(GROUPS) else (f"Group {i + 1}", "")
        made_groups.append(agent_service.create_group(actor=SYSTEM, name=name,
                                                      description=description))
    made_agents = []
    for i in range(team_size):
        login, name, role, group_idx, lang = TEAM[i] if i < len(TEAM) else (
            f"agent{i + 1}", f"Agent {i + 1}", "agent", (i % groups,), "en")
        made_agents.append(agent_service.create_agent(
            actor=SYSTEM, name=name, email=f"{login}@helpdesk.example", user_id=login,
            role=role, language=lang,
            groups=[made_groups[g].id for g in group_idx if g < len(made_groups)]))
    return made_groups, made_agents


def _create_views(admin: Agent) -> None:
    for position, (name, filters, sort) in enumerate((
        ("My open tickets", {"assignee": ["me"], "status": ["open", "pending", "on_hold"]},
         "priority"),
        ("Unassigned", {"assignee": ["none"], "status": ["open"]}, "created"),
        ("Urgent and high", {"priority": ["urgent", "high"], "status": ["open", "on_hold"]},
         "priority"),
        ("Waiting for the customer", {"status": ["pending"]}, "-updated"),
        ("On hold", {"status": ["on_hold"]}, "-updated"),
        ("Solved", {"status": ["resolved", "closed"]}, "-updated"),
        ("Spam", {"status": ["spam"]}, "-created"),
    )):
        views.create_view(actor=admin, name=name, filters=filters, sort=sort, shared=True,
                          position=position)


#: Shared reply templates of the demo: (folder, name, body, actions).
TEMPLATES: tuple[tuple[str, str, str, dict[str, t.Any]], ...] = (
    ("Billing/Refunds", "Refund issued",
     "Hello {{ customer.first_name }},\n\nwe have refunded your payment for ticket"
     " #{{ ticket.id }}. The money is back on your card within 5 business days.\n\n"
     "Best regards,\n{{ agent.name }}",
     {"status": "pending", "add_tags": ["refund"]}),
    ("Billing/Refunds", "Возврат оформлен",
     "Здравствуйте, {{ customer.first_name }}!\n\nМы вернули оплату по заявке"
     " №{{ ticket.id }}. Деньги придут на карту в течение 5 рабочих дней.\n\n"
     "С уважением,\n{{ agent.name }}",
     {"status": "pending", "add_tags": ["refund"]}),
    ("Billing/Refunds", "Reembolso realizado",
     "Olá, {{ customer.first_name }}!\n\nReembolsamos o pagamento do chamado"
     " #{{ ticket.id }}. O valor volta ao seu cartão em até 5 dias úteis.\n\n"
     "Atenciosamente,\n{{ agent.name }}",
     {"status": "pending", "add_tags": ["refund"]}),
    ("Billing", "Invoice copy",
     "Hello {{ customer.first_name }},\n\nyou can download every invoice under"
     " Settings → Billing → Invoices. Reply here if one is missing.\n\n{{ agent.first_name }}",
     {"status": "resolved"}),
    ("Tech", "Need more details",
     "Hello {{ customer.first_name }},\n\nto look into “{{ ticket.subject }}” we need the"
     " app version, your device and a screenshot of the error.\n\n{{ agent.name }}",
     {"status": "pending", "add_tags": ["need-info"]}),
    ("Tech", "Нужны подробности",
     "Здравствуйте, {{ customer.first_name }}!\n\nЧтобы разобраться с заявкой"
     " «{{ ticket.subject }}», пришлите, пожалуйста, версию приложения, модель устройства"
     " и снимок экрана с ошибкой.\n\n{{ agent.name }}",
     {"status": "pending", "add_tags": ["need-info"]}),
    ("Tech", "Bug confirmed",
     "Hello {{ customer.first_name }},\n\nthank you: we could reproduce the problem and our"
     " developers are on it. We will write as soon as the fix is out.\n\n{{ agent.name }}",
     {"status": "on_hold", "add_tags": ["bug"], "priority": "high"}),
    ("", "Saudação e encerramento",
     "Olá, {{ customer.first_name }}!\n\nFicamos felizes em ajudar. Se precisar de algo"
     " mais, é só responder a esta mensagem.\n\nAbraços,\n{{ agent.first_name }}",
     {"status": "resolved"}),
)


def _create_templates(admin: Agent) -> None:
    for folder, name, body, actions in TEMPLATES:
        template_service.create_template(actor=admin, name=name, body=body, folder=folder,
                                         shared=True, actions=actions)


#: The demo team's business hours: Monday to Friday 09:00-18:00 in Berlin.
CALENDAR: dict[str, t.Any] = {
    "name": "Berlin office", "timezone": "Europe/Berlin",
    "periods": [{"weekday": day, "start": "09:00", "end": "18:00"}
                for day in ("mon", "tue", "wed", "thu", "fri")],
}

#: Its holidays, each year: (month, day, name).
HOLIDAYS = ((1, 1, "New Year's Day"), (5, 1, "Labour Day"), (10, 3, "German Unity Day"),
            (12, 25, "Christmas Day"), (12, 26, "Second Day of Christmas"))


def _create_automation(admin: Agent, groups: list[t.Any], year: int) -> None:
    """The business calendar of every group, and the shipped rules (disabled)."""
    from .services import calendars
    from .services import rules

    calendar = calendars.create_calendar(actor=admin, is_default=True, holidays=[
        {"date": dt.date(y, m, d).isoformat(), "name": name}
        for y in (year - 1, year, year + 1) for m, d, name in HOLIDAYS], **CALENDAR)
    for group in groups:
        agent_service.update_group(group.id, actor=admin, calendar_id=calendar.id)
    rules.install_defaults(actor=admin)


def _final_status(rng: random.Random, age_days: float) -> str:
    table: tuple[tuple[str, int], ...]
    if age_days > 14:
        table = (("closed", 70), ("resolved", 28), ("on_hold", 2))
    elif age_days > 3:
        table = (("resolved", 45), ("closed", 20), ("pending", 18), ("on_hold", 7), ("open", 10))
    else:
        table = (("open", 40), ("pending", 30), ("on_hold", 10), ("resolved", 20))
    return rng.choices([s for s, _ in table], weights=[w for _, w in table])[0]


class _Generator:
    """One run of :func:`generate`: the random source, the team, the clock.

    Each ticket's life is a generator that does one step and yields how long
    to wait before the next; :meth:`run` interleaves them in time order, so
    rows are written in the order they would have been.
    """

    def __init__(self, rng: random.Random, clock: _Clock, groups: list[t.Any],
                 team: list[Agent], days: int) -> None:
        self.rng, self.clock, self.groups, self.team = rng, clock, groups, team
        self.start = clock.present - dt.timedelta(days=days)
        self.end = clock.present - dt.timedelta(minutes=5)
        self.by_group = {g.id: [a for a in team if g.id in a.group_ids and a.role == "agent"]
                         or [a for a in team if a.sees_all] for g in groups}
        self.first_line = groups[0]
        self.counter = 0
        self.current = -1  # the life whose step runs now
        self.awaiting: set[int] = set()  # lives with a reply not yet delivered
        self.stats = {"replies": 0, "notes": 0, "reassigned": 0, "merged": 0,
                      "follow_ups": 0}

    def run(self, people: list[dict[str, t.Any]], count: int, post: _Outbox) -> None:
        heap: list[tuple[dt.datetime, int, t.Generator[dt.timedelta, None, None]]] = []
        for n, when in enumerate(_arrivals(self.rng, self.start, self.end, count)):
            heapq.heappush(heap, (when, n, self.life(self.rng.choice(people))))
        session = get_state().db.session
        while heap:
            # Steps are committed in batches: far fewer commits and reloads.
            # The replies of a batch are delivered after it commits; a life
            # with a reply not yet delivered ends the batch before its next
            # step, so every ticket's history stays in order.
            with transaction():
                for _step in range(BATCH):
                    if not heap or heap[0][1] in self.awaiting:
                        break
                    when, n, life = heapq.heappop(heap)
                    if when >= self.end:
                        life.close()  # that step is still in the future
                        continue
                    self.clock.now, self.current = when, n
                    wait = next(life, None)
                    session.flush()  # stamp this step's rows with its time
                    if wait is not None:
                        heapq.heappush(heap, (when + wait, n, life))
            post.deliver(self.clock)
            self.awaiting.clear()

    def reply(self, ticket_id: int, **kwargs: t.Any) -> None:
        messages.reply(ticket_id, **kwargs)
        self.stats["replies"] += 1
        self.awaiting.add(self.current)

    def minutes(self, low: float, high: float) -> dt.timedelta:
        return dt.timedelta(minutes=self.rng.uniform(low, high))

    def ingest(self, customer: dict[str, t.Any], subject: str, text: str,
               hint: int | None = None, spam: float = 0.0, group: str | None = None) -> t.Any:
        self.counter += 1
        return inbound.ingest(InboundMessage(
            channel="web", external_id=f"demo-{self.counter}",
            sender=Identity("email", customer["email"], customer["name"]), subject=subject,
            text=text, received_at=self.clock.now, ticket_hint=hint, spam_score=spam,
            group=group or self.first_line.name))

    def life(self, customer: dict[str, t.Any]) -> t.Generator[dt.timedelta, None, None]:
        """From the first message to closing, one yield between two steps."""
        rng = self.rng
        if rng.random() < 0.03:
            self.ingest(customer, rng.choice(_SPAM), "Visit http://spam.example now", spam=0.97)
            return
        topic, lang = rng.choice(_TOPICS), customer["lang"]
        fill = {"name": customer["name"].split()[0], "email": customer["email"],
                "order": f"#{rng.randint(100000, 999999)}", "device": rng.choice(_DEVICES),
                "amount": rng.choice(("$19.00", "$49.00", "€29.90", "1 990 ₽", "R$ 89,90"))}
        subject, body, follow, answer = (x.format(**fill) for x in topic.texts[lang])
        target = self.groups[topic.group % len(self.groups)]
        triager = rng.choice(self.by_group[self.first_line.id])
        owner = triager if target.id == self.first_line.id else rng.choice(self.by_group[target.id])
        entry = self.first_line
        if owner is not triager and rng.random() < 0.5:
            entry = target  # written to the group's own address: no handover
            triager = owner
        ticket_id = self.ingest(customer, subject, body, group=entry.name).ticket_id
        final = _final_status(rng, (self.end - self.clock.now).total_seconds() / 86400)
        yield self.minutes(3, 180)
        tickets.update_ticket(ticket_id, actor=triager, changes=TicketChanges(
            priority=("low", "normal", "high", "urgent")[_pick(rng, topic.priority)],
            add_tags=topic.tags, assignee_id=triager.id if owner is triager else None))
        if rng.random() < 0.02:
            yield self.minutes(1, 20)
            dup = self.ingest(customer, f"{subject} (again)", follow, group=entry.name)
            yield self.minutes(1, 20)
            tickets.merge_tickets(dup.ticket_id, ticket_id, actor=triager)
            self.stats["merged"] += 1
        if owner is not triager:
            yield self.minutes(1, 30)
            note = rng.choice(_HANDOVER).format(topic=topic.tags[0], group=target.name)
            tickets.reassign(ticket_id, actor=triager, group_id=target.id,
                             assignee_id=owner.id, note=note)
            self.stats["reassigned"] += 1
        if rng.random() < 0.2:
            yield self.minutes(5, 120)
            messages.add_note(ticket_id, actor=owner, text=rng.choice(_NOTES))
            self.stats["notes"] += 1
        if final == "open" and rng.random() < 0.5:
            return  # not answered yet
        yield self.minutes(10, 600)
        self.reply(ticket_id, actor=owner, text=answer,
                   status="on_hold" if final == "on_hold" else "pending")
        if final == "open":
            yield self.minutes(30, 2880)
            self.ingest(customer, f"Re: {subject}", follow, hint=ticket_id)  # reopens it
            self.stats["follow_ups"] += 1
            return
        if rng.random() < 0.35:
            yield self.minutes(30, 2880)
            self.ingest(customer, f"Re: {subject}", follow, hint=ticket_id)
            self.stats["follow_ups"] += 1
            yield self.minutes(10, 480)
            self.reply(ticket_id, actor=owner, text=answer, status="pending")
        if final in ("pending", "on_hold"):
            return
        yield self.minutes(60, 2880)
        closing = "closed" if final == "closed" and rng.random() < 0.5 else "resolved"
        self.reply(ticket_id, actor=owner, text=_CLOSING[lang].format(**fill),
                   status=closing)
        if final == "closed" and closing == "resolved":
            yield self.minutes(60 * 24, 60 * 24 * 4)
            tickets.update_ticket(ticket_id, actor=SYSTEM,
                                  changes=TicketChanges(status="closed"))


def _arrivals(rng: random.Random, start: dt.datetime, end: dt.datetime, n: int) -> list[
        dt.datetime]:
    """``n`` moments between ``start`` and ``end``, busier on weekdays and office hours."""
    span = (end - start).total_seconds()
    out: list[dt.datetime] = []
    while len(out) < n:
        when = start + dt.timedelta(seconds=rng.uniform(0, span))
        weight = (0.35 if when.weekday() >= 5 else 1.0) * (1.0 if 7 <= when.hour < 20 else 0.25)
        # Slightly more traffic lately: the product grows.
        weight *= 0.7 + 0.3 * (when - start).total_seconds() / span
        if rng.random() < weight:
            out.append(when)
    return sorted(out)


def generate(*, seed: int = 1, groups: int = 3, agents: int = 8, customers: int = 300,
             tickets: int = 2000, days: int = 90,
             now: dt.datetime | None = None) -> dict[str, int]:
    """Fill an empty helpdesk with a demo team, customers and tickets.

    Call it in an app context. Everything goes through the services, so the
    tickets have real histories and the search index is up to date. The same
    ``seed`` gives the same data. Every group uses the business calendar
    :data:`CALENDAR` (with :data:`HOLIDAYS`), and the shipped example rules
    are installed, disabled.

    :param seed: Seed of the random source.
    :param groups: Number of groups (the first three are First line support,
        Billing and Tech).
    :param agents: Team size; the first eight are :data:`TEAM`, with logins
        ``admin``, ``manager``, ``anna``, ``boris``...
    :param customers: Number of customers, each with an email and often a phone
        and a Telegram handle.
    :param tickets: Number of tickets, spread over the last ``days`` days.
    :param days: How far back the history goes.
    :param now: The demo's present (naive UTC): the history ends five minutes
        before it. By default the current time. The same ``seed``, sizes and
        ``now`` give the same data on any day, which is what tests want.
    :return: Counts of what was made.
    :raises RuntimeError: The helpdesk already holds tickets or agents.

    .. versionadded:: 0.1
    """
    if groups < 1 or agents < 2 or customers < 1 or tickets < 0 or days < 1:
        raise ValueError("demo data needs at least 1 group, 2 agents, 1 customer and 1 day")
    session = get_state().db.session
    if session.scalar(sa.select(sa.func.count()).select_from(Ticket)) or session.scalar(
            sa.select(sa.func.count()).select_from(Agent)):
        raise RuntimeError("The helpdesk already has agents or tickets; demo data goes into "
                           "an empty helpdesk only.")
    rng = random.Random(seed)
    post = _Outbox()
    pm = get_state().pm
    pm.register(post, name="flask_helpdesk.demo.outbox")
    started = time.perf_counter()
    try:
        with _no_embedded_worker(), _fewer_fsyncs(), _simulated_clock(now) as clock:
            clock.now = clock.present - dt.timedelta(days=days + 30)
            made_groups, team = _create_team(groups, agents)
            _create_views(team[0])
            _create_templates(team[0])
            _create_automation(team[0], made_groups, clock.present.year)
            people = _customers(rng, customers)
            gen = _Generator(rng, clock, made_groups, team, days)
            gen.run(people, tickets, post)
        _settle(post)
    finally:
        pm.unregister(post)
    return {"groups": len(made_groups), "agents": len(team), "customers": len(people),
            "tickets": int(session.scalar(sa.select(sa.func.count()).select_from(Ticket)) or 0),
            **gen.stats, "seconds": round(time.perf_counter() - started)}


def _customers(rng: random.Random, n: int) -> list[dict[str, t.Any]]:
    people = []
    for i in range(n):
        lang = rng.choices(("en", "ru", "pt"), weights=(5, 3, 2))[0]
        name, email = _person(rng, lang, i + 1)
        identities = [("email", email)]
        if rng.random() < 0.6:
            prefix = {"en": "+1 555", "ru": "+7 916", "pt": "+55 11"}[lang]
            identities.append(("phone", f"{prefix} {rng.randint(1000000, 9999999)}"))
        if rng.random() < 0.4:
            identities.append(("telegram", f"@{email.split('@')[0].replace('.', '_')}"))
        customer_service.create_customer(
            actor=SYSTEM, name=name, identities=identities,
            attributes={"plan": rng.choice(("free", "pro", "business")), "language": lang})
        people.append({"name": name, "email": email, "lang": lang})
    return people


def _settle(post: _Outbox) -> None:
    """Date the deliveries a running worker made just after their replies."""
    if not post.delivered_elsewhere:
        return
    session = get_state().db.session
    ids = [m for _e, m in post.delivered_elsewhere]
    created = dict(session.execute(sa.select(Message.id, Message.created_at)
                                   .where(Message.id.in_(ids))).all())
    for event_id, message_id in post.delivered_elsewhere:
        sent = created[message_id] + dt.timedelta(seconds=20)
        session.execute(sa.update(Message).where(Message.id == message_id).values(sent_at=sent))
        session.execute(sa.update(TicketEvent).where(TicketEvent.id == event_id).values(at=sent))
    session.commit()


@click.command("demo-data")
@click.option("--seed", default=1, show_default=True, help="Seed of the random source.")
@click.option("--groups", default=3, show_default=True)
@click.option("--agents", default=8, show_default=True)
@click.option("--customers", default=300, show_default=True)
@click.option("--tickets", default=2000, show_default=True)
@click.option("--days", default=90, show_default=True, help="How far back tickets go.")
@click.option("--now", type=click.DateTime(), default=None,
              help="The demo's present in UTC (default: the current time); the same seed,"
                   " sizes and --now give the same data on any day.")
@with_appcontext
def demo_data_command(now: dt.datetime | None, **sizes: int) -> None:
    """Fill an empty helpdesk with a demo team, customers and tickets."""
    try:
        made = generate(**sizes, now=now)
    except (RuntimeError, ValueError, HelpdeskError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(", ".join(f"{key}: {value}" for key, value in made.items()))
