"""helpdesk connector: one support model enforced across Zendesk, Jira Service Management and PagerDuty."""

__version__ = "0.1.0"
