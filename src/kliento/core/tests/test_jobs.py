"""Jobs run by a real Huey consumer (threads, SQLite queue in a temp dir), not in immediate mode."""

from __future__ import annotations

import queue
import signal
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone
from huey.contrib.djhuey import HUEY, db_task
from huey.signals import SIGNAL_COMPLETE, SIGNAL_ERROR
from huey.storage import SqliteStorage

from kliento.core.models import JobFailure
from kliento.core.tasks import prune_job_failures

WAIT = 30  # seconds; each wait normally ends within a second or two

attempts: Counter[str] = Counter()


@db_task(retries=2, retry_delay=0)
def always_fails(token: str) -> None:
    attempts[token] += 1
    raise RuntimeError(f"attempt {attempts[token]} failed")


@db_task(retries=1, retry_delay=1)
def fails_once(token: str) -> str:
    attempts[token] += 1
    if attempts[token] == 1:
        raise RuntimeError("first attempt failed")
    return "done"


@pytest.fixture
def consumer(tmp_path):
    """A real consumer on the project's Huey, switched from immediate mode to an SQLite queue.

    Yields a queue of (signal, task id, retries left) events; our receiver is connected after
    kliento.core.jobs' handlers, so an event means the failure row was already written.
    """
    saved = (HUEY.storage, HUEY.immediate, HUEY.immediate_use_memory)
    saved_handlers = {
        s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    HUEY.immediate_use_memory = False
    HUEY.immediate = False
    HUEY.storage = SqliteStorage("kliento-test", filename=str(tmp_path / "jobs.sqlite3"))
    events: queue.Queue = queue.Queue()

    def observe(sig, task, exc=None):
        events.put((sig, task.id, task.retries))

    HUEY.signal(SIGNAL_ERROR, SIGNAL_COMPLETE)(observe)
    worker = HUEY.create_consumer(
        workers=1, worker_type="thread", periodic=False, initial_delay=0.05, max_delay=0.1
    )
    worker.start()
    try:
        yield events
    finally:
        worker.stop(graceful=True)
        HUEY.disconnect_signal(observe)
        HUEY.storage.close()
        HUEY.storage, HUEY.immediate, HUEY.immediate_use_memory = saved
        for signum, handler in saved_handlers.items():
            signal.signal(signum, handler)


def enqueue(task_wrapper, *args):
    """Queue a job and return its id (results are off in settings, so enqueue returns None)."""
    task = task_wrapper.s(*args)
    HUEY.enqueue(task)
    return task.id


def wait_for(events: queue.Queue, *, sig: str, task_id: str, retries: int | None = None):
    """Collect events until the given one; returns every event seen for the task."""
    seen = []
    while True:
        event_sig, event_task_id, event_retries = events.get(timeout=WAIT)
        if event_task_id != task_id:
            continue
        seen.append((event_sig, event_retries))
        if event_sig == sig and retries in (None, event_retries):
            return seen


@pytest.mark.django_db(transaction=True)
def test_a_failing_job_is_retried_then_recorded_for_admins(consumer):
    task_id = enqueue(always_fails, "a")

    seen = wait_for(consumer, sig=SIGNAL_ERROR, task_id=task_id, retries=0)

    assert seen == [(SIGNAL_ERROR, 2), (SIGNAL_ERROR, 1), (SIGNAL_ERROR, 0)]
    assert attempts["a"] == 3
    failure = JobFailure.objects.get()
    assert failure.task_id == task_id
    assert failure.task_name == "kliento.core.tests.test_jobs.always_fails"
    assert failure.args == "(('a',), {})"
    assert failure.error == "RuntimeError('attempt 3 failed')"
    assert failure.retries_left == 0


@pytest.mark.django_db(transaction=True)
def test_a_job_that_fails_once_then_succeeds_is_not_left_as_a_failure(consumer):
    task_id = enqueue(fails_once, "b")

    seen = wait_for(consumer, sig=SIGNAL_COMPLETE, task_id=task_id)

    assert seen == [(SIGNAL_ERROR, 1), (SIGNAL_COMPLETE, 0)]
    assert attempts["b"] == 2
    assert JobFailure.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_prune_job_failures_forgets_old_failures_only(consumer):
    now = timezone.now()
    for task_id, age in (("old", 31), ("recent", 29)):
        JobFailure.objects.create(
            task_name="x", task_id=task_id, error="boom", at=now - timedelta(days=age)
        )

    wait_for(consumer, sig=SIGNAL_COMPLETE, task_id=enqueue(prune_job_failures))

    assert list(JobFailure.objects.values_list("task_id", flat=True)) == ["recent"]


def test_jobs_run_inline_under_pytest_unless_a_test_starts_a_consumer():
    assert HUEY.immediate is True
