"""SLA clocks: the pure engine (a ticket's history in, clocks and fires out), the live clocks and
durable timers over stored tickets, reports and dry runs. Imports the model, the calendar, the policy,
the store and the tickets' timeline."""
