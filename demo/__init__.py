"""The demo: the simulator and Home Assistant with config/, and the browser test that drives it."""
