"""A test double of the WhatsApp HTTP gateways the integration speaks to.

wuzapi, Maytapi, Chat-API, Waabot, WAHA, Evolution API, GREEN-API and the WhatsApp Cloud
API. Never a gateway for
real use: it speaks the gateways' wire contracts with in-memory state and offers a control
API (`/__emulator/…`) that plays the phone.
"""

from .app import SIMULATOR_KEY, Simulator, SimulatorConfig, create_app
from .chatapi import ChatApiConfig
from .cloudapi import CloudApiConfig
from .evolution import EvolutionConfig
from .greenapi import GreenApiConfig
from .maytapi import MaytapiConfig
from .waabot import WaabotConfig
from .waha import WahaConfig
from .wuzapi import WuzapiConfig

__all__ = [
    "SIMULATOR_KEY",
    "ChatApiConfig",
    "CloudApiConfig",
    "EvolutionConfig",
    "GreenApiConfig",
    "MaytapiConfig",
    "Simulator",
    "SimulatorConfig",
    "WaabotConfig",
    "WahaConfig",
    "WuzapiConfig",
    "create_app",
]
