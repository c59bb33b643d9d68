"""Schemathesis against the OpenAPI document: generated requests to every operation, sent with an
admin key, never get a 5xx. Bounded (a few examples per operation) so it runs in about a minute.

The operations are walked by hand with Hypothesis rather than through schemathesis' pytest
plugin, whose fixture-based loader does not work with this pytest."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

EXAMPLES_PER_OPERATION = 10


def test_no_generated_request_to_any_operation_gets_a_server_error(serve):
    app = serve(customers=20, seed=7)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app.client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    failures = {}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case) -> None:
            case.call_and_validate(headers=app.headers("admin"), checks=[not_a_server_error])

        try:
            check()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures[operation.label] = str(exc)[:2000]
    assert not failures, failures
