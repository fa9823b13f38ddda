"""`scripts/develop`: run the demo until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType

from .stack import PASSWORD, USERNAME, WUZAPI_USER_TOKEN, Demo, DemoError

NEXT_STEPS = """
WhatsApp Gateway demo is running.

  Home Assistant  {ha}   (log in as {user} / {password})
  Phone page      {phone}

1. In Home Assistant: Settings > Devices & services > Add integration > WhatsApp Gateway,
   choose wuzapi, enter the URL {gateway} and the user token {token}.
2. On the phone page, press Scan: the dialog in Home Assistant moves on by itself.
3. Write "ping" on the phone page: the demo automation answers "pong", and every message
   shows up as a notification in Home Assistant.

Logs: {config}/home-assistant.log and {config}/simulator.out. Ctrl-C stops the demo.
"""


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
                gateway=demo.simulator_url,
                token=WUZAPI_USER_TOKEN,
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
