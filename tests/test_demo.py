"""The demo's helpers: a fresh configuration holds only our files; the log check finds every
error and traceback, and our warnings, but not the warnings of others."""

from __future__ import annotations

from pathlib import Path

from demo.stack import COMPONENT, fresh_config, log_problems

OTHERS = """\
2026-11-21 16:05:58.798 WARNING (SyncWorker_0) [homeassistant.loader] integration whatsapp_gateway
2026-11-21 16:05:58.970 WARNING (MainThread) [haffmpeg.tools] Error starting FFmpeg.
2026-11-21 16:05:59.001 DEBUG (MainThread) [custom_components.whatsapp_gateway] Finished fetching
2026-11-21 16:05:59.002 INFO (MainThread) [custom_components.whatsapp_gateway.coordinator] recovered
"""
OURS = [
    "2026-11-21 16:06:00.100 WARNING (MainThread) [custom_components.whatsapp_gateway.polling] "
    "Polling +49 for messages failed",
    "2026-11-21 16:06:00.200 ERROR (MainThread) [homeassistant] Error doing job\n"
    "Traceback (most recent call last):\n"
    '  File "/tmp/config/custom_components/whatsapp_gateway/sending.py", line 1, in send\n'
    "ValueError: boom",
    "2026-11-21 16:06:00.300 ERROR (MainThread) [haffmpeg.core] FFmpeg fails",
    "2026-11-21 16:06:00.400 INFO (MainThread) [homeassistant.setup] Setting up met\n"
    "Traceback (most recent call last):\n"
    "ModuleNotFoundError: No module named 'metno'",
]


def test_log_check_finds_errors_tracebacks_and_our_warnings(tmp_path: Path) -> None:
    log = tmp_path / "home-assistant.log"
    log.write_text(OTHERS, encoding="utf-8")
    assert log_problems(log) == []
    log.write_text(OTHERS + "\n".join(OURS) + "\n", encoding="utf-8")
    assert [problem.rstrip("\n") for problem in log_problems(log)] == OURS
    assert [problem.rstrip("\n") for problem in log_problems(log, ours_only=True)] == OURS[:2]


def test_fresh_config_copies_only_our_files(tmp_path: Path) -> None:
    target = tmp_path / "config"
    target.mkdir()
    (target / "home-assistant_v2.db").write_text("left over")
    fresh_config(target)
    assert sorted(path.name for path in target.iterdir()) == [
        "automations.yaml",
        "configuration.yaml",
        "custom_components",
        "www",
    ]
    assert (target / "custom_components" / "whatsapp_gateway").resolve() == COMPONENT
    assert (target / "www" / "whatsapp-gateway.png").read_bytes().startswith(b"\x89PNG")
