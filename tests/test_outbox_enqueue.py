"""The outbox rows a commit adds are enqueued with one Redis round trip (a sweeper's chunk commits
dozens of pages and notifications at once), one job per row."""

from __future__ import annotations

from typing import Any

from connector.queue import JobQueue


def test_a_commits_outbox_rows_are_enqueued_with_one_pipeline(monkeypatch: Any) -> None:
    queue = JobQueue.embedded("test-enqueue-many")
    made = []
    pipeline = queue.outbound.connection.pipeline

    def counted(*args: Any, **kwargs: Any) -> Any:
        made.append(1)
        return pipeline(*args, **kwargs)

    monkeypatch.setattr(queue.outbound.connection, "pipeline", counted)
    queue.enqueue_outbox_many([7, 8, 9])
    assert len(made) == 1
    jobs = [queue.outbound.fetch_job(job_id) for job_id in queue.outbound.job_ids]
    assert [(j.func_name, j.args, j.result_ttl) for j in jobs] == [
        ("connector.outbox.delivery.deliver_outbox", (n,), 0) for n in (7, 8, 9)
    ]
    queue.enqueue_outbox_many([])
    assert len(made) == 1 and queue.outbound.count == 3
