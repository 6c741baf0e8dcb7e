"""Sync back to the tools (a later issue): linked engineering issues, comments and status both ways,
echo-loop detection. May import the model, the store, tickets and the outbox."""
