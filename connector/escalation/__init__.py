"""Escalation routing (next issue): triggers of the policy → raise level, reassign, page, notify, create
a linked issue, require a post-mortem; consumes ticket changes and SLA fires. May import the model,
the policy, the store, tickets and SLA; writes its intents to the outbox."""
