print("alarm-rig: not built yet")
