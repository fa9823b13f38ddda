"""The README's table of what each gateway can do, made from the gateways' descriptors.

`python -m devtools.capabilities` prints it; with `--write` it replaces the table in README.md
(between its two markers). A test checks that README.md holds the table as it is made now, so
the table follows the descriptors and cannot drift from them.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys

from custom_components.whatsapp_gateway.gateway import GATEWAYS, Capability

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN = "<!-- capability matrix: made by `python -m devtools.capabilities --write` -->"
END = "<!-- end of capability matrix -->"

# What a user can do, and the capabilities that give it (any one of them; none: every gateway).
ROWS: tuple[tuple[str, tuple[Capability, ...]], ...] = (
    ("`send_message`, `send_file`, message and command events", ()),
    ("Quote a message (`reply_to`)", (Capability.REPLY,)),
    ("Voice messages", (Capability.VOICE,)),
    ("Stickers", (Capability.STICKER,)),
    ("`send_location`", (Capability.LOCATION,)),
    ("`send_reaction`", (Capability.REACTION,)),
    ("`edit_message`", (Capability.EDIT,)),
    ("`delete_message`", (Capability.DELETE,)),
    ("`send_typing`", (Capability.TYPING,)),
    ("`send_poll`", (Capability.POLL,)),
    ("Poll votes (`poll_vote`) with the options chosen", (Capability.POLL_VOTES,)),
    ("`send_template` (approved templates)", (Capability.TEMPLATES,)),
    ("`mark_read`", (Capability.MARK_READ,)),
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


def with_matrix(readme: str) -> str:
    """The README with the table between its markers replaced by the current one."""
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    return f"{readme[:start]}\n{matrix()}\n{readme[end:]}"


def main() -> None:
    """Print the table, or write it into README.md."""
    parser = argparse.ArgumentParser(prog="python -m devtools.capabilities", description=__doc__)
    parser.add_argument("--write", action="store_true", help="replace the table in README.md")
    if parser.parse_args().write:
        README.write_text(with_matrix(README.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        sys.stdout.write(matrix() + "\n")


if __name__ == "__main__":
    main()
