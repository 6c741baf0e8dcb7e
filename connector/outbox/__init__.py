"""The outbox (next issue): outbound intents written in the same transaction as the decision that
made them, delivered exactly once through the vendors' outbound adapters, with retries and a
dead-letter list. May import the model, the store and the runtime; knows adapters only by contract."""
