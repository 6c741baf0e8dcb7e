"""A worker's teardown of RQ's command channel cannot stall (`ConnectorWorker.unsubscribe`): with RQ's
own order (unsubscribe, then stop the pubsub thread) a thread that reads the unsubscribe reply before
its stop flag is cleared waits RQ's 60 s `sleep_time` to be subscribed again, and redis-py 8's
`stop()` waits for it — a burst run or a warm shutdown took a minute."""

from __future__ import annotations

import time
from typing import Any

from connector.queue.workers import ConnectorWorker
from tests.conftest import make_queue, make_settings


def test_teardown_is_quick_even_when_the_pubsub_thread_reads_the_unsubscribe_reply_first(database: Any) -> None:
    queue = make_queue(make_settings(database))
    worker = ConnectorWorker(queue.queues, connection=queue.connection)
    worker.subscribe()
    assert worker.pubsub is not None and worker.pubsub_thread is not None
    thread, pubsub = worker.pubsub_thread, worker.pubsub
    real = pubsub.unsubscribe

    def unsubscribe_then_dawdle(*args: Any) -> Any:
        answer = real(*args)
        time.sleep(0.5)  # the pubsub thread reads the reply meanwhile (what a loaded machine does)
        return answer

    pubsub.unsubscribe = unsubscribe_then_dawdle  # type: ignore[method-assign]
    started = time.monotonic()
    worker.unsubscribe()
    assert time.monotonic() - started < 5  # RQ 3.0's own order: 60 s here
    assert not thread.is_alive()
