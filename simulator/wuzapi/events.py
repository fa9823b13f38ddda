"""Events the way whatsmeow marshals them into wuzapi's webhook posts."""

from __future__ import annotations

from typing import Any

from ..common import now


def message_info(chat: str, sender: str, msg_id: str) -> dict[str, Any]:
    """MessageInfo the way whatsmeow marshals it."""
    return {
        "Chat": chat,
        "Sender": sender,
        "IsFromMe": False,
        "IsGroup": chat.endswith("@g.us"),
        "AddressingMode": "",
        "SenderAlt": "",
        "RecipientAlt": "",
        "BroadcastListOwner": "",
        "BroadcastRecipients": None,
        "ID": msg_id,
        "ServerID": 0,
        "Type": "text",
        "PushName": "",
        "Timestamp": now().isoformat(timespec="seconds"),
        "Category": "",
        "Multicast": False,
        "MediaType": "",
        "Edit": "",
        "VerifiedName": None,
        "DeviceSentMeta": None,
    }


def message_event(info: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    """An events.Message."""
    return {
        "Info": info,
        "Message": message,
        "IsEphemeral": False,
        "IsViewOnce": False,
        "IsEdit": False,
        "RetryCount": 0,
        "RawMessage": message,
    }


def receipt_event(chat: str, ids: list[str], state: str) -> dict[str, Any]:
    """A ReadReceipt post, with wuzapi's `state` beside the event."""
    return {
        "type": "ReadReceipt",
        "state": state,
        "event": {
            "Chat": chat,
            "Sender": chat,
            "IsFromMe": False,
            "IsGroup": chat.endswith("@g.us"),
            "MessageIDs": ids,
            "Timestamp": now().isoformat(timespec="seconds"),
            "Type": "read" if state == "Read" else "",
            "MessageSender": "",
        },
    }
