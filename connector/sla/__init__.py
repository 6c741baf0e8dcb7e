"""SLA clocks: business-time arithmetic and the clocks that run on it."""
