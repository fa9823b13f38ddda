"""WhatsApp Gateway: WhatsApp messages in Home Assistant through an HTTP gateway.

The gateway client library lives in `gateway/`; the config flow, entities and actions that use
it are built on top of it.
"""
