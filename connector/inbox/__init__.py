"""The inbox pipeline: the sink every receiver ends in (verify, store, enqueue, answer), the job that
processes a stored delivery, the reconciler, replay, mapping preview, and reading deliveries back.
Imports the runtime, the store, tickets and SLA."""
