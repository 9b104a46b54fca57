"""Schemathesis against the REST API: every phase, every check, one summary.

Two callers share this runner: ``tests/api/test_schemathesis.py`` (the app
through WSGI, a few derandomized examples per operation, in the suite) and
``scripts/fuzz_api.py`` (a real server over HTTP, 100 examples per operation
by default, by hand). Both run schemathesis's engine as its command line does:
the examples, coverage, fuzzing and stateful phases, positive and negative
data, and all its checks, configured by :data:`CONFIG`.

The caller's token may be revoked, or its agent demoted, by the very requests
the fuzzer sends (``DELETE /tokens/{id}``, ``PATCH /agents/{id}``). Before
every request the runner asks :class:`Credentials` for a working token; it
repairs the agent and makes a new token when needed and counts each repair,
so a run never goes on quietly with 401s.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import typing as t

import schemathesis
from schemathesis.engine import Status
from schemathesis.engine import events
from schemathesis.engine import from_schema
from werkzeug.serving import make_server

#: Statuses a request that fits the document may get (positive_data_acceptance).
#: 422 is a refusal that depends on the data's state (a closed ticket, a
#: merge into itself, a time zone the server does not know) or on rules
#: between fields that a schema cannot say; anything a schema can say (types,
#: lengths, patterns, values, required fields) is in the document, so a 400
#: for a request that fits it is a failure.
ACCEPTED = ["2xx", 401, 403, 404, 409, 422]
#: Statuses that refuse a request that breaks the document
#: (negative_data_rejection): schemathesis's list and 413, a body too large.
REFUSED = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]

#: The engine's configuration (schemathesis.toml keys).
CONFIG: dict[str, t.Any] = {
    "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED},
               "negative_data_rejection": {"expected-statuses": REFUSED}},
    "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True},
               "fuzzing": {"enabled": True}, "stateful": {"enabled": True}},
    "generation": {"mode": "all"},
    "warnings": False,
}


class Credentials(t.Protocol):
    """Where the runner gets a token that works now."""

    #: How many times the token or its agent had to be repaired.
    renewals: int

    def secret(self) -> str:
        """A valid token, re-created (and its agent repaired) when the run broke it."""
        ...


@dataclasses.dataclass
class Outcome:
    """What a run found."""

    cases: int = 0
    server_errors: list[str] = dataclasses.field(default_factory=list)
    violations: list[str] = dataclasses.field(default_factory=list)
    renewals: int = 0
    seconds: float = 0.0
    #: Cases per phase.
    phases: dict[str, int] = dataclasses.field(default_factory=dict)

    def result_line(self) -> str:
        return (f"RESULT cases={self.cases} server_errors={len(self.server_errors)}"
                f" violations={len(self.violations)} token_renewals={self.renewals}"
                f" seconds={self.seconds:.0f}")


def configure(*, max_examples: int, seed: int, workers: int = 1,
              negative_coverage: bool = True) -> schemathesis.Config:
    """The engine's configuration.

    :param negative_coverage: Whether the coverage phase also sends its
        thousands of schema-breaking variants (the fuzzing phase sends
        schema-breaking data either way).
    """
    config: dict[str, t.Any] = {
        **CONFIG, "seed": seed, "workers": workers,
        "generation": {**CONFIG["generation"], "max-examples": max_examples,
                       "deterministic": True},
    }
    if not negative_coverage:
        config["phases"] = {**CONFIG["phases"], "coverage": {
            "enabled": True, "generation": {"mode": "positive"}}}
    return schemathesis.Config.from_dict(config)


def authenticate(schema: t.Any, credentials: Credentials) -> None:
    """Send ``credentials``' current token with every request (no caching)."""

    @schema.auth(refresh_interval=None)
    class Token:
        def get(self, case: t.Any, ctx: t.Any) -> str:
            return credentials.secret()

        def set(self, case: t.Any, data: str, ctx: t.Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


def run(schema: t.Any, credentials: Credentials) -> Outcome:
    """Run every phase against ``schema`` (loaded with :func:`configure`'s config)."""
    authenticate(schema, credentials)
    outcome = Outcome()
    seen: set[object] = set()
    for event in from_schema(schema).execute():
        if isinstance(event, events.FatalError):
            raise event.exception
        if isinstance(event, events.NonFatalError):
            outcome.violations.append(f"{event.label}: error: {event.value!r}")
        elif isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            phase = str(getattr(event, "phase", "fuzz"))
            outcome.phases[phase] = outcome.phases.get(phase, 0) + len(event.recorder.cases)
            _collect(event.recorder, outcome, seen)
        elif isinstance(event, events.EngineFinished):
            outcome.seconds = event.running_time
            for failure in event.failures:
                outcome.violations.append(f"{failure.operation}: {failure.title}")
    outcome.renewals = credentials.renewals
    return outcome


@contextlib.contextmanager
def serve(app: t.Any) -> t.Iterator[str]:
    """Serve ``app`` on a free port of 127.0.0.1 in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _collect(recorder: t.Any, outcome: Outcome, seen: set[object]) -> None:
    outcome.cases += len(recorder.cases)
    for case_id, checks in recorder.checks.items():
        interaction = recorder.interactions.get(case_id)
        response = interaction.response if interaction is not None else None
        answer = (f"{response.status_code} {response.content[:300]!r}" if response is not None
                  else "no answer")
        for check in checks:
            if check.status != Status.FAILURE or check.failure_info is None:
                continue
            failure = check.failure_info.failure
            if failure in seen:
                continue
            seen.add(failure)
            message = " ".join(failure.message.split())[:400]
            text = (f"{failure.operation} [{check.name}] {failure.title}: {message}\n"
                    f"    answer: {answer}\n    {check.failure_info.code_sample[:1500]}")
            if check.name == "not_a_server_error":
                outcome.server_errors.append(text)
            else:
                outcome.violations.append(text)
