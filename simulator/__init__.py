"""A test double of WhatsApp HTTP gateways (wuzapi, Maytapi) for tests and the demo.

Never a gateway for real use: it speaks the gateways' wire contracts with in-memory state and
offers a control API (`/__emulator/…`) that plays the phone.
"""

from .app import SIMULATOR_KEY, Simulator, SimulatorConfig, create_app
from .maytapi import MaytapiConfig
from .wuzapi import WuzapiConfig

__all__ = [
    "SIMULATOR_KEY",
    "MaytapiConfig",
    "Simulator",
    "SimulatorConfig",
    "WuzapiConfig",
    "create_app",
]
