"""What each gateway can do, made from the gateways' descriptors, for the README and docs.

The README has a table; each action's page under docs/actions/ lists the gateways it works with.

`python -m devtools.capabilities` prints the table; with `--write` it replaces the table in
README.md and the lists in the action pages (each between its two markers). A test checks that
they are as they are made now, so they follow the descriptors and cannot drift from them.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys

from homeassistant.util.yaml import load_yaml_dict

from custom_components.whatsapp_gateway.gateway import GATEWAYS, Capability

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
ACTION_PAGES = ROOT / "docs" / "actions"
BEGIN = "<!-- capability matrix: made by `python -m devtools.capabilities --write` -->"
END = "<!-- end of capability matrix -->"
GATEWAYS_BEGIN = "<!-- gateways: made by `python -m devtools.capabilities --write` -->"
GATEWAYS_END = "<!-- end of gateways -->"

# Each action and what a gateway needs for it (nothing: every gateway has it).
ACTION_NEEDS: dict[str, Capability | None] = {
    "send_message": None,
    "send_file": None,
    "send_location": Capability.LOCATION,
    "send_reaction": Capability.REACTION,
    "mark_read": Capability.MARK_READ,
    "edit_message": Capability.EDIT,
    "delete_message": Capability.DELETE,
    "send_typing": Capability.TYPING,
    "send_poll": Capability.POLL,
    "send_template": Capability.TEMPLATES,
}
# The actions' fields: the ones that take `wait_for` can wait for a receipt.
SERVICES = load_yaml_dict(ROOT / "custom_components" / "whatsapp_gateway" / "services.yaml")


def action_row(action: str, more: str = "") -> tuple[str, tuple[Capability, ...]]:
    """A row of the table for an action, with what the action needs."""
    needed = ACTION_NEEDS[action]
    return f"`{action}`{more}", () if needed is None else (needed,)


# What a user can do, and the capabilities that give it (any one of them; none: every gateway).
ROWS: tuple[tuple[str, tuple[Capability, ...]], ...] = (
    ("`send_message`, `send_file`, message and command events", ()),
    ("Quote a message (`reply_to`)", (Capability.REPLY,)),
    ("Voice messages", (Capability.VOICE,)),
    ("Stickers", (Capability.STICKER,)),
    action_row("send_location"),
    action_row("send_reaction"),
    action_row("edit_message"),
    action_row("delete_message"),
    action_row("send_typing"),
    action_row("send_poll"),
    ("Poll votes (`poll_vote`) with the options chosen", (Capability.POLL_VOTES,)),
    action_row("send_template", " (approved templates)"),
    action_row("mark_read"),
    ("Call events", (Capability.CALLS,)),
    ("`mentions` in message events; groups only when mentioned", (Capability.MENTIONS,)),
    ("Delivery receipts, `wait_for: delivered` or `read`", (Capability.RECEIPTS,)),
    ("Link with a pairing code", (Capability.PAIRING_CODE,)),
    ("Messages arrive by webhook", (Capability.WEBHOOK,)),
    ("Messages arrive by polling", (Capability.POLLING,)),
    ("Signed webhook posts", (Capability.HMAC,)),
    (
        "Messages missed while Home Assistant was stopped",
        # A poll after the restart fetches them; other gateways can be asked for them.
        (Capability.CATCH_UP, Capability.POLLING),
    ),
)
NOTES = (
    "wuzapi: editing, deleting, typing, polls, poll votes and calls need a build newer than"
    " May 2025.",
    "Chat-API: receipts come only when the instance posts to a webhook, not when it is polled.",
)


def matrix() -> str:
    """The table in Markdown, with its notes."""
    header = "| | " + " | ".join(descriptor.name for descriptor in GATEWAYS) + " |"
    lines = [header, "|---|" + "---|" * len(GATEWAYS)]
    for label, needed in ROWS:
        cells = (
            "✓" if not needed or set(needed) & descriptor.capabilities else "\u2013"
            for descriptor in GATEWAYS
        )
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"- {note}" for note in NOTES]
    return "\n".join(lines)


def names(capability: Capability | None, *, having: bool = True) -> list[str]:
    """The gateways that have a capability (or lack it)."""
    return [
        descriptor.name
        for descriptor in GATEWAYS
        if (capability is None or capability in descriptor.capabilities) is having
    ]


def gateways_of(action: str) -> str:
    """Which gateways an action works with, as its page says it."""
    needed = ACTION_NEEDS[action]
    able, unable = names(needed), names(needed, having=False)
    if not unable:
        lines = [f"- Works with every gateway: {', '.join(able)}."]
    else:
        lines = [
            f"- Works with: {', '.join(able)}.",
            f"- Not with {', '.join(unable)}: there the action fails with *… cannot do this*"
            " and sends nothing.",
        ]
    if "wait_for" in SERVICES[action]["fields"]:
        lines.append(
            f"- `wait_for: delivered` or `read`: {', '.join(names(Capability.RECEIPTS))}"
            " (see [Waiting for the receipt](README.md#waiting-for-the-receipt))."
        )
    return "\n".join(lines)


def replaced(text: str, begin: str, end: str, content: str) -> str:
    """The text with what stands between two markers replaced by `content`."""
    start, stop = text.index(begin) + len(begin), text.index(end)
    return f"{text[:start]}\n{content}\n{text[stop:]}"


def with_matrix(readme: str) -> str:
    """The README with the table between its markers replaced by the current one."""
    return replaced(readme, BEGIN, END, matrix())


def with_gateways(page: str, action: str) -> str:
    """An action's page with its list of gateways replaced by the current one."""
    return replaced(page, GATEWAYS_BEGIN, GATEWAYS_END, gateways_of(action))


def main() -> None:
    """Print the table, or write it into README.md and the lists into the action pages."""
    parser = argparse.ArgumentParser(prog="python -m devtools.capabilities", description=__doc__)
    parser.add_argument("--write", action="store_true", help="replace the table and the lists")
    if not parser.parse_args().write:
        sys.stdout.write(matrix() + "\n")
        return
    README.write_text(with_matrix(README.read_text(encoding="utf-8")), encoding="utf-8")
    for action in ACTION_NEEDS:
        page = ACTION_PAGES / f"{action}.md"
        page.write_text(with_gateways(page.read_text(encoding="utf-8"), action), encoding="utf-8")


if __name__ == "__main__":
    main()
