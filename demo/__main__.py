"""`scripts/develop`: run the demo until Ctrl-C."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from types import FrameType

from .stack import COMPONENT, PASSWORD, USERNAME, Demo, DemoError

NEXT_STEPS = """
WhatsApp Gateway demo is running.

  Home Assistant  {ha}   (log in as {user} / {password})
  Phone page      {phone}

1. In Home Assistant: Settings > Devices & services > Add integration > WhatsApp Gateway,
   and choose a gateway. Every one is simulated here; enter its details (for a further wuzapi
   account leave the user token empty and give the admin token: a new user is made):
{gateways}
2. On the phone page, pick that gateway's phone and press Scan (or, after "Link with phone
   number instead" on wuzapi, type the code Home Assistant shows): the dialog in Home
   Assistant moves on by itself. Add as many gateways as you like, one phone each.
3. Write "ping" on the phone page: the demo automation answers "pong", and every message
   shows up as a notification in Home Assistant.

Logs: {config}/home-assistant.log and {config}/simulator.out. Ctrl-C stops the demo.
"""


def gateway_details(sign_in: dict[str, dict[str, str]]) -> str:
    """Each simulated gateway with the values of its setup form, aligned."""
    # The gateways as the integration's first form names them.
    strings = json.loads((COMPONENT / "strings.json").read_text(encoding="utf-8"))
    titles = strings["config"]["step"]["user"]["menu_options"]
    width = max(len(label) for fields in sign_in.values() for label in fields)
    lines = []
    for product, fields in sign_in.items():
        lines.append(f"\n     {titles[product]}")
        lines += [f"       {label:<{width}}  {value}" for label, value in fields.items()]
    return "\n".join(lines)


def main() -> int:
    """Start, onboard, print what to open, wait for Ctrl-C."""
    parser = argparse.ArgumentParser(prog="scripts/develop", description=__doc__)
    parser.add_argument("--simulator-port", type=int, default=8081)
    args = parser.parse_args()
    demo = Demo(simulator_port=args.simulator_port)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        demo.start()
        demo.onboard()
        print(
            NEXT_STEPS.format(
                # Not localhost: there the frontend reloads once on a first visit, which
                # closes the dialog a user has just opened.
                ha=demo.ha_url,
                user=USERNAME,
                password=PASSWORD,
                phone=demo.phone_url,
                gateways=gateway_details(demo.sign_in),
                config=demo.config,
            ),
            flush=True,
        )
        for process in demo.processes:
            process.wait()
        print("demo: a server stopped; see the logs above", file=sys.stderr)
        return 1
    except DemoError as err:
        print(f"demo: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        demo.stop()


if __name__ == "__main__":
    sys.exit(main())
