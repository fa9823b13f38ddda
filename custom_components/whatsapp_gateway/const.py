"""Constants of the WhatsApp Gateway integration."""

from datetime import timedelta
from enum import StrEnum
import logging
from typing import Final

DOMAIN: Final = "whatsapp_gateway"
LOGGER = logging.getLogger(__package__)

# Entry data: `kind` picks the gateway (its descriptor in the library), whose options are
# stored beside these keys of the integration's own.
CONF_KIND: Final = "kind"
CONF_WEBHOOK_SECRET: Final = "webhook_secret"
CONF_CLOUDHOOK_URL: Final = "cloudhook_url"
# The webhook address the gateway checked itself (Meta's handshake): no setup notice for it.
CONF_WEBHOOK_VERIFIED: Final = "webhook_verified"

# Options
CONF_INBOUND_MODE: Final = "inbound_mode"
CONF_STATUS_INTERVAL: Final = "status_interval"
CONF_FIRE_OWN_MESSAGES: Final = "fire_own_messages"
CONF_MARK_READ: Final = "mark_read"
CONF_SHOW_TYPING: Final = "show_typing"
CONF_GROUPS_MENTIONED_ONLY: Final = "groups_mentioned_only"
# With show_typing, "typing…" shows this many seconds before each message goes out.
TYPING_SECONDS: Final = 1.5
CONF_POLL_INTERVAL: Final = "poll_interval"
CONF_MEDIA_KEEP_DAYS: Final = "media_keep_days"
CONF_MEDIA_MAX_MB: Final = "media_max_mb"


class InboundMode(StrEnum):
    """How incoming messages reach Home Assistant."""

    AUTO = "auto"
    WEBHOOK = "webhook"
    POLLING = "polling"


DEFAULT_STATUS_INTERVAL: Final = 60
MIN_STATUS_INTERVAL: Final = 10
MAX_STATUS_INTERVAL: Final = 3600
DEFAULT_POLL_INTERVAL: Final = 5
MIN_POLL_INTERVAL: Final = 1
MAX_POLL_INTERVAL: Final = 300
# Saved incoming media: kept this many days, and at most this many MB per account.
DEFAULT_MEDIA_KEEP_DAYS: Final = 30
MAX_MEDIA_KEEP_DAYS: Final = 3650
DEFAULT_MEDIA_MAX_MB: Final = 1000
MIN_MEDIA_MAX_MB: Final = 10
MAX_MEDIA_MAX_MB: Final = 100_000
# After failed polls the interval doubles, up to this many seconds.
MAX_POLL_BACKOFF: Final = 300

# Chat subentries
SUBENTRY_CHAT: Final = "chat"
CONF_CHAT_ID: Final = "chat_id"

# Pairing: how often the flow looks at the session, and how long it waits for the phone.
PAIR_POLL_INTERVAL: Final = timedelta(seconds=2)
PAIR_TIMEOUT: Final = timedelta(minutes=3)

# Bus events
EVENT_MESSAGE_RECEIVED: Final = f"{DOMAIN}_message_received"
EVENT_MESSAGE_STATUS: Final = f"{DOMAIN}_message_status"
EVENT_COMMAND_RECEIVED: Final = f"{DOMAIN}_command_received"
EVENT_CALL: Final = f"{DOMAIN}_call"
# The event entity's event type of a text that is a command ("/lights off").
EVENT_TYPE_COMMAND: Final = "command"
EVENT_TYPE_CALL: Final = "call"

# Actions
SERVICE_SEND_MESSAGE: Final = "send_message"
SERVICE_SEND_FILE: Final = "send_file"
SERVICE_SEND_LOCATION: Final = "send_location"
SERVICE_SEND_REACTION: Final = "send_reaction"
SERVICE_MARK_READ: Final = "mark_read"
SERVICE_EDIT_MESSAGE: Final = "edit_message"
SERVICE_DELETE_MESSAGE: Final = "delete_message"
SERVICE_SEND_TYPING: Final = "send_typing"
SERVICE_SEND_POLL: Final = "send_poll"
SERVICE_SEND_TEMPLATE: Final = "send_template"
ATTR_TARGET: Final = "target"
ATTR_MESSAGE: Final = "message"
ATTR_REPLY_TO: Final = "reply_to"
ATTR_URL: Final = "url"
ATTR_FILE: Final = "file"
ATTR_MEDIA: Final = "media"
ATTR_CAPTION: Final = "caption"
ATTR_FILENAME: Final = "filename"
ATTR_KIND: Final = "kind"
ATTR_BEARER_TOKEN: Final = "bearer_token"
ATTR_CAMERA: Final = "camera"
ATTR_NAME: Final = "name"
ATTR_ADDRESS: Final = "address"
ATTR_MESSAGE_ID: Final = "message_id"
ATTR_EMOJI: Final = "emoji"
ATTR_FROM_ME: Final = "from_me"
ATTR_SENDER: Final = "sender"
ATTR_WAIT_FOR: Final = "wait_for"
ATTR_TIMEOUT: Final = "timeout"
ATTR_MESSAGE_TAG: Final = "message_tag"
ATTR_STATE: Final = "state"
ATTR_QUESTION: Final = "question"
ATTR_OPTIONS: Final = "options"
ATTR_MULTIPLE: Final = "multiple_answers"
ATTR_TEMPLATE: Final = "template"
ATTR_LANGUAGE: Final = "language"
ATTR_PARAMETERS: Final = "parameters"
# A poll has this many options, at least and at most (as WhatsApp allows).
MIN_POLL_OPTIONS: Final = 2
MAX_POLL_OPTIONS: Final = 12
# Waiting for a receipt: seconds by default, and at most.
DEFAULT_RECEIPT_TIMEOUT: Final = 60.0
MAX_RECEIPT_TIMEOUT: Final = 3600.0

# Limits
MAX_WEBHOOK_BYTES: Final = 16 * 1024 * 1024
# Posts held while an entry reloads: at most this many, and this many bytes.
MAX_HELD_POSTS: Final = 500
MAX_HELD_BYTES: Final = 64 * 1024 * 1024
# A gateway that stopped signing is given its key again at most this often (seconds).
SIGNING_REPAIR_INTERVAL: Final = 60
MAX_FILE_BYTES: Final = 64 * 1024 * 1024
DOWNLOAD_TIMEOUT: Final = 30
SEEN_MESSAGES: Final = 4096
SEND_RETRY_DELAYS: Final = (1.0, 4.0)
MAX_RETRY_AFTER: Final = 30.0
LAST_MESSAGE_MAX_LENGTH: Final = 255
# The inbound health sensor writes its state at most this often (seconds): a busy account
# would otherwise fill the recorder with a row per message.
HEALTH_WRITE_DELAY: Final = 30
# The last-message sensor writes a burst of messages once, at most this often (seconds).
LAST_MESSAGE_WRITE_INTERVAL: Final = 1
