"""The loops that move work in a process: the RQ worker (in the main thread of `connector worker`, or
in a thread in embedded mode) and the dispatcher that turns acknowledged deliveries' inbox ids into RQ
jobs. Each survives any failure — Redis dropping, restarting empty, refusing writes — by logging one
line, backing off and starting again (`connector.loops`)."""

from __future__ import annotations

import logging
import time
from typing import Any

from rq import SimpleWorker
from rq.timeouts import TimerDeathPenalty

from connector import defaults
from connector.logs import where
from connector.loops import Backoff, Loop
from connector.queue.jobqueue import JobQueue

log = logging.getLogger(__name__)

#: The worker's blocking dequeue waits this long at most (RQ derives it from the worker TTL: ttl - 15),
#: and its Redis socket a little longer, so an idle worker never times out its own connection.
WORKER_TTL_SECONDS = 60


class WorkerLoopEnded(RuntimeError):
    """RQ's work loop returned although nobody asked it to stop (it quits on a lost connection)."""


class ConnectorWorker(SimpleWorker):
    """An RQ worker (jobs run in this process: no fork, so the database pool is never shared across
    one) whose reconnection backoff is capped at 5 s instead of RQ's 60 s: after Redis comes back, work
    resumes within seconds."""

    max_connection_wait_time = 5
    #: a SIGTERM/SIGINT arrived. RQ stops an idle worker by raising StopRequested out of its dequeue
    #: without saying so anywhere else; this is how `run_worker` tells a stop from a lost connection.
    stop_signalled = False

    def request_stop(self, signum: Any, frame: Any) -> None:
        self.stop_signalled = True
        super().request_stop(signum, frame)

    def unsubscribe(self) -> None:
        """RQ's teardown of its command channel, in an order that cannot stall. RQ unsubscribes and then
        stops the pubsub thread; since redis-py 8 `stop()` waits for the thread, and a thread that read
        the unsubscribe reply before its running flag was cleared waits to be subscribed again for its
        whole `sleep_time` — RQ's 60 s: a warm shutdown, or the end of a burst, took a minute. Here the
        flag is cleared first, so the reply ends the thread's last read and the thread with it."""
        thread: Any = self.pubsub_thread  # RQ types it as None: it is set by subscribe()
        pubsub = self.pubsub
        if thread is None or pubsub is None:
            return
        try:
            thread.stop(timeout=0)  # clears the flag, waits for nothing
        except TypeError:  # redis-py before 8: stop() takes no timeout and only clears the flag
            thread.stop()
        pubsub.unsubscribe()
        thread.join(timeout=1)
        if not thread.is_alive():  # else the thread closes it as it ends: two closes at once race (seen in CI)
            pubsub.close()


class ThreadWorker(ConnectorWorker):
    """A worker that can live in a non-main thread: no signal handlers, timer-based job timeouts."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:  # signals only work in the main thread
        return None

    def subscribe(self) -> None:
        """No command channel: a worker in a thread of another process (the embedded worker, a test's
        drain) is stopped by its owner, not by `rq` commands over pubsub. On the embedded fakeredis the
        channel's thread and the worker shared one in-process socket, and its teardown could close it
        while the other was reading ('generator already executing')."""
        return None


def run_worker(queue: JobQueue, *, burst: bool = False, logging_level: str = "INFO") -> None:
    """`connector worker`'s main loop: RQ's worker, started again whenever it stops on a failure, until
    it was asked to stop (SIGTERM/SIGINT: RQ's warm shutdown) or, in `burst` mode, has run out of jobs."""
    backoff = Backoff(1.0, 30.0)
    while True:
        worker: ConnectorWorker | None = None
        try:
            # inside the try: building a worker for several queues already talks to Redis
            worker = ConnectorWorker(queue.queues, connection=queue.worker_connection(), worker_ttl=WORKER_TTL_SECONDS)
            worker.work(burst=burst, logging_level=logging_level, with_scheduler=False)
        except Exception as exc:  # RQ lost Redis in setup or teardown: start again
            log.error("worker failed; starting again", extra={"error": type(exc).__name__, "where": where(exc)})
        else:
            if burst or (worker is not None and _stop_requested(worker)):
                return
            log.error("worker loop ended (the queue connection was lost); starting again")
        time.sleep(backoff.next())


def _stop_requested(worker: Any) -> bool:
    return bool(getattr(worker, "stop_signalled", False) or getattr(worker, "_stop_requested", False))


class EmbeddedWorker(Loop):
    """A ThreadWorker on the embedded queue, in a supervised daemon thread, until `stop()`."""

    def __init__(self, queue: JobQueue):
        super().__init__("embedded worker", self._work)
        self.queue = queue
        self.worker: ThreadWorker | None = None

    def _work(self) -> float:
        # worker_ttl 16 → the blocking dequeue wakes every second to notice stop().
        self.worker = ThreadWorker(self.queue.queues, connection=self.queue.connection, worker_ttl=16)
        self.worker.work(burst=False, logging_level="WARNING", with_scheduler=False)
        if not self.stopping:
            raise WorkerLoopEnded("the worker loop returned without being asked to stop")
        return 0.0

    def stop(self, timeout: float = 5.0) -> None:
        if self.worker is not None:
            self.worker._stop_requested = True
        super().stop(timeout)


class Dispatcher(Loop):
    """Moves inbox ids to RQ jobs (in every worker process, and in embedded mode), keeping
    `defaults.DISPATCH_AHEAD` processing jobs waiting: a burst waits in the inbox as ids, not as jobs
    made all at once while the web tier is still acknowledging it, and goes to the workers in jobs of up
    to `batch` deliveries each, which a worker processes in one transaction. While Redis is down the
    ids wait in Redis — or, if Redis lost them, in the database, for the reconciler."""

    def __init__(
        self, queue: JobQueue, *, ahead: int = defaults.DISPATCH_AHEAD, batch: int = defaults.PROCESS_BATCH_MAX
    ):
        super().__init__("dispatcher", self._dispatch)
        self.queue = queue
        self.ahead = ahead
        self.batch = batch

    def _dispatch(self) -> float:
        room = self.ahead - self.queue.rq.count
        if room <= 0:
            return defaults.DISPATCH_FULL_WAIT_SECONDS  # enough waiting: look again shortly
        # the rest of the burst stays in the inbox, where an id is one list entry instead of a job
        self.queue.dispatch(block=1, jobs=room, batch=self.batch)
        return 0.0
