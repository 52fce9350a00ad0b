"""Daemon lifecycle: sd_notify, watchdog, signals, reload, leadership."""
