"""An independent HIL rig client for the device's Modbus test port, built on pymodbus only.

It knows the register map from docs/hil.md alone (no code of ours), so a test that reads the device through it
checks the device against the documented contract, not against our own client.

Prints one JSON object per line, flushed as soon as it is known, so a test can act between the lines:
  {"event": "map", ...}        the whole map (input registers, discrete inputs, holding register, coils), decoded
  {"event": "probes", ...}     requests the map forbids, the Modbus exception code each one got, and the map after
  {"event": "pressed", ...}    with --press: holding register 0 and coil 0 written, and the map read right after
  {"event": "final", ...}      with --press: the map once the alarm state is at least 1 (or when --timeout ran out)
Exit status: 0 success, 2 cannot connect or a read failed, 3 map version is not 1, 4 the alarm did not come in time.
"""
import argparse
import json
import sys
import time

from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException

MAP_VERSION = 1
INPUT_REGISTER_COUNT = 34
UNKNOWN = 0xFFFF

# Input registers (function 04): name -> (address, kind). 32-bit values take two registers, high word first.
INPUT_REGISTERS = {
    "mapVersion": (0, "u16"),
    "alarmState": (1, "u16"),
    "alarmNumber": (2, "u16"),
    "callState": (3, "u16"),
    "registration": (4, "u16"),
    "emergencyOnly": (5, "u16"),
    "signal": (6, "u16"),
    "fixMode": (7, "u16"),
    "latitude": (8, "deg7"),
    "longitude": (10, "deg7"),
    "fixAge": (12, "u16"),
    "fixAccuracy": (13, "u16"),
    "batteryPercent": (14, "u16"),
    "charging": (15, "u16"),
    "dataPath": (16, "u16"),
    "pendingReports": (17, "u16"),
    "alarmsRaised": (18, "u32"),
    "reportsSent": (20, "u32"),
    "reportsAcknowledged": (22, "u32"),
    "callsPlaced": (24, "u32"),
    "callsConnected": (26, "u32"),
    "modemRestarts": (28, "u32"),
    "uptimeSeconds": (30, "u32"),
    "microphone": (32, "u16"),
    "injectedPresses": (33, "u16"),
}
DISCRETE_INPUTS = ["vibrator", "amplifierEnable", "button"]
PRESS_LENGTH_REGISTER = 0
PRESS_COIL = 0
END_ALARM_COIL = 1


def emit(obj):
    print(json.dumps(obj, sort_keys=True), flush=True)


def fail(status, message):
    emit({"event": "error", "message": message})
    sys.exit(status)


def decode(registers):
    values = {}
    for name, (address, kind) in INPUT_REGISTERS.items():
        if kind == "u16":
            values[name] = registers[address]
            continue
        word = registers[address] << 16 | registers[address + 1]
        if kind == "u32":
            values[name] = word
        else:  # int32, degrees x 10^7
            signed = word - (1 << 32) if word & 0x80000000 else word
            values[name] = signed / 1e7
    return values


def checked(response, what):
    if response.isError():
        fail(2, f"{what}: {response}")
    return response


def read_map(client, unit):
    registers = checked(client.read_input_registers(0, count=INPUT_REGISTER_COUNT, device_id=unit),
                        "read input registers").registers
    bits = checked(client.read_discrete_inputs(0, count=len(DISCRETE_INPUTS), device_id=unit),
                   "read discrete inputs").bits
    holding = checked(client.read_holding_registers(0, count=1, device_id=unit), "read holding registers").registers
    coils = checked(client.read_coils(0, count=2, device_id=unit), "read coils").bits
    return {
        "registers": list(registers),
        "values": decode(registers),
        "discrete": {name: bool(bits[i]) for i, name in enumerate(DISCRETE_INPUTS)},
        "pressLengthMs": holding[0],
        "coils": {"press": bool(coils[PRESS_COIL]), "endAlarm": bool(coils[END_ALARM_COIL])},
    }


def exception_code(response):
    """The Modbus exception code of a refused request, or 0 if the device accepted it."""
    return response.exception_code if response.isError() else 0


def probe(client, unit, read_only):
    """Requests the map forbids. None of them may change anything on the device."""
    probes = {
        "writeCoilOutsideMap": exception_code(client.write_coil(2, True, device_id=unit)),
        "writeHoldingOutsideMap": exception_code(client.write_register(1, 100, device_id=unit)),
        # Starts at the writable press length but runs past the map: refused as a whole.
        "writeHoldingAcrossEnd": exception_code(client.write_registers(0, [100, 100], device_id=unit)),
        "readInputOutsideMap": exception_code(client.read_input_registers(INPUT_REGISTER_COUNT, count=1, device_id=unit)),
        # Report Server ID (function 17) is not among the functions the test port serves.
        "reportServerId": exception_code(client.report_device_id(device_id=unit)),
    }
    if read_only:
        # Only meaningful without press injection: there these addresses exist but are read-only.
        probes["writePressCoilReadOnly"] = exception_code(client.write_coil(PRESS_COIL, True, device_id=unit))
        probes["writePressLengthReadOnly"] = exception_code(client.write_register(PRESS_LENGTH_REGISTER, 100, device_id=unit))
    return probes


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1502)
    parser.add_argument("--unit", type=int, default=1)
    parser.add_argument("--press", type=int, metavar="MS", help="press the button for MS milliseconds through the port")
    parser.add_argument("--timeout", type=float, default=20.0,
                        help="seconds to wait for alarm state >= 1 after --press (0: read once, do not wait)")
    parser.add_argument("--poll", type=float, default=0.05, help="seconds between reads while waiting")
    parser.add_argument("--read-only", action="store_true",
                        help="the port has no press injection: also check that coil 0 and holding register 0 refuse writes")
    args = parser.parse_args()

    client = ModbusTcpClient(args.host, port=args.port, timeout=3, retries=1)
    if not client.connect():
        fail(2, f"cannot connect to {args.host}:{args.port}")
    try:
        state = read_map(client, args.unit)
        emit({"event": "map", **state})
        if state["values"]["mapVersion"] != MAP_VERSION:
            fail(3, f"map version {state['values']['mapVersion']}, this client knows version {MAP_VERSION}")

        exceptions = probe(client, args.unit, args.read_only)
        # A refused write must have changed nothing, not even the part of a multi-register write that was in range.
        emit({"event": "probes", "exceptions": exceptions, **read_map(client, args.unit)})

        if args.press is None:
            return
        checked(client.write_register(PRESS_LENGTH_REGISTER, args.press, device_id=args.unit), "write press length")
        checked(client.write_coil(PRESS_COIL, True, device_id=args.unit), "write press coil")
        # The device applies a write before it answers, so this read already sees the press.
        emit({"event": "pressed", "lengthMs": args.press, **read_map(client, args.unit)})

        started = time.monotonic()
        while True:
            state = read_map(client, args.unit)
            waited = time.monotonic() - started
            reached = state["values"]["alarmState"] >= 1
            if reached or waited >= args.timeout:
                emit({"event": "final", "alarm": reached, "waitedSeconds": round(waited, 3), **state})
                if not reached and args.timeout > 0:
                    sys.exit(4)
                return
            time.sleep(args.poll)
    except ModbusException as error:
        fail(2, f"Modbus I/O failed: {error}")
    finally:
        client.close()


if __name__ == "__main__":
    main()
