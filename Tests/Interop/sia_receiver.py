"""An independent SIA DC-09 receiver for interop tests: pysiaalarm's synchronous server.

Reports each event it receives as one JSON line on a Unix socket the test listens on (the first line says the
port it bound), so the test waits on events, never on time. Runs until SIGTERM.
"""
import argparse
import json
import signal
import socket
import threading

from pysiaalarm import CommunicationsProtocol, SIAAccount, SIAClient

parser = argparse.ArgumentParser()
parser.add_argument("--report", required=True, help="Unix socket path to report events to")
parser.add_argument("--protocol", choices=["tcp", "udp"], default="tcp")
parser.add_argument("--account", required=True)
parser.add_argument("--key", default=None)
args = parser.parse_args()

out = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
out.connect(args.report)
lock = threading.Lock()


def report(obj):
    with lock:
        out.sendall((json.dumps(obj) + "\n").encode())


def on_event(event):
    report({
        "type": "event",
        "valid": bool(event.valid_message),
        "message_type": str(event.message_type.value if event.message_type else None),
        "encrypted": bool(event.encrypted),
        "account": event.account,
        "sequence": event.sequence,
        "code": event.code,
        "ri": event.ri,
        "extended": {x.identifier: x.value for x in (event.extended_data or [])},
    })


protocol = CommunicationsProtocol.TCP if args.protocol == "tcp" else CommunicationsProtocol.UDP
client = SIAClient("127.0.0.1", 0, [SIAAccount(args.account, args.key)], on_event, protocol)
client.start()
report({"type": "ready", "port": client.sia_server.server_address[1]})

stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
stop.wait()
client.stop()
