"""Saved incoming media: where it goes, and how long it stays.

Files go where the media browser's "Local media" looks, in a folder per account, so that they
can be sent on. They are pruned by age and total size (options), and go with their account.
"""

from datetime import datetime, timedelta
from pathlib import Path
import shutil
import time

from homeassistant.core import HomeAssistant

from .const import LOGGER

MEDIA_FOLDER = "whatsapp_gateway"
PRUNE_INTERVAL = timedelta(hours=6)


def media_folder(hass: HomeAssistant, entry_id: str) -> Path:
    """The folder an account's incoming media is saved in."""
    media_root = hass.config.media_dirs.get("local") or hass.config.path("media")
    return Path(media_root, MEDIA_FOLDER, entry_id)


def prune(folder: Path, keep_days: int, max_bytes: int, now: datetime | None = None) -> int:
    """Delete files older than `keep_days`, then the oldest until at most `max_bytes` remain.

    Blocking: run it in the executor. Returns how many files were deleted.
    """
    if not folder.is_dir():
        return 0
    limit = (now.timestamp() if now else time.time()) - keep_days * 86400
    stats = [(path.stat(), path) for path in folder.iterdir()]
    files = sorted(
        ((stat.st_mtime, stat.st_size, path) for stat, path in stats), key=lambda item: item[0]
    )
    deleted = 0
    total = sum(size for _, size, _ in files)
    for modified, size, path in files:
        if modified >= limit and total <= max_bytes:
            break
        try:
            path.unlink()
        except OSError as err:
            LOGGER.warning("Could not delete the saved media file %s: %s", path.name, err)
            continue
        deleted += 1
        total -= size
    return deleted


async def async_remove_media(hass: HomeAssistant, entry_id: str) -> None:
    """Delete all media an account saved (it is removed)."""
    await hass.async_add_executor_job(
        lambda: shutil.rmtree(media_folder(hass, entry_id), ignore_errors=True)
    )
