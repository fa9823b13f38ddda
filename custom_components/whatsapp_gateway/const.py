"""Constants of the WhatsApp Gateway integration."""

from typing import Final

DOMAIN: Final = "whatsapp_gateway"
