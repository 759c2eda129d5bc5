// Modbus through libmodbus: the device's HIL test port (a server) and the rig runner's client.
