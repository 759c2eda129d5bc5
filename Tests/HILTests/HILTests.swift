// The HIL test port and the rig runner, against the simulated device.
