from adapters.zendesk.inbound import ZendeskAdapter

__all__ = ["ZendeskAdapter"]
