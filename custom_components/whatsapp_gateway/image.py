"""The pairing QR code as an image entity, for re-pairing from a dashboard."""

from homeassistant.components.image import ImageEntity
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .coordinator import SessionCoordinator, WhatsAppConfigEntry
from .entity import WhatsAppEntity
from .gateway import LoginQr, sniff_image

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: WhatsAppConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the account's QR code image."""
    async_add_entities([QrCodeImage(hass, entry.runtime_data.coordinator)])


class QrCodeImage(WhatsAppEntity, ImageEntity):
    """The QR code the gateway shows while the account waits to be linked.

    While the account is linked there is nothing to scan: the state is then unknown, which is
    no error (unavailable means the gateway cannot be reached).
    """

    _attr_translation_key = "qr_code"
    _attr_entity_category = EntityCategory.DIAGNOSTIC
    _attr_content_type = "image/png"

    def __init__(self, hass: HomeAssistant, coordinator: SessionCoordinator) -> None:
        super().__init__(coordinator, "qr_code")
        ImageEntity.__init__(self, hass)
        self._qr: LoginQr | None = None
        self._take_qr()

    def _take_qr(self) -> None:
        qr = self.coordinator.data.qr
        if qr != self._qr:
            self._qr = qr
            shown = qr is not None and qr.image is not None
            self._attr_image_last_updated = dt_util.utcnow() if shown else None
            if qr is not None and qr.image is not None:
                # Most gateways send PNG; some document their QR as a JPEG.
                self._attr_content_type = sniff_image(qr.image) or "image/png"

    @callback
    def _handle_coordinator_update(self) -> None:
        self._take_qr()
        super()._handle_coordinator_update()

    async def async_image(self) -> bytes | None:
        """The image of the current QR code (none while the account is linked)."""
        return self._qr.image if self._qr is not None else None
