"""Email, run by RQ: sending one outbox row (retried with backoff), pushing a consent change to the platform,
and the relay that enqueues due rows and pushes."""

from __future__ import annotations

from rq import get_current_job

from integration.core.runtime import get_runtime
from integration.messaging.codes import make, relay_codes
from integration.messaging.outbox import relay
from integration.messaging.pushback import push, relay_pushes
from integration.messaging.sending import send_outbox


def send_email(outbox_id: int) -> str:
    """Send one outbox row (re-checking consent and suppression now); RQ retries when this raises."""
    job = get_current_job()
    retries_left = job.retries_left if job is not None else None
    return send_outbox(get_runtime(), outbox_id, retries_left=retries_left)


def relay_outbox() -> int:
    """Enqueue the outbox rows whose time has come and whose job Redis does not hold."""
    runtime = get_runtime()
    relay_pushes(runtime)
    relay_codes(runtime)
    return relay(runtime)


def push_consent(push_id: int) -> str:
    """Write one of our consent changes to the platform's record; RQ retries when the platform is down."""
    job = get_current_job()
    retries_left = job.retries_left if job is not None else None
    return push(get_runtime(), push_id, retries_left=retries_left)


def make_code(code_id: int) -> str:
    """Make one thank-you code on the platform, then release its email; RQ retries an outage."""
    job = get_current_job()
    retries_left = job.retries_left if job is not None else None
    return make(get_runtime(), code_id, retries_left=retries_left)
