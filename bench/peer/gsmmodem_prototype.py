#!/usr/bin/env python3
"""The alarm's first prototype as it is usually written: python-gsmmodem-new on the modem's AT port.

This is the peer that `make bench` (Sources/alarm-bench/PeerBench.swift) compares our firmware against.
It talks to the modem emulator over a pseudo-terminal exactly as it would talk to /dev/ttyUSB2.

Protocol: one JSON object per line on stdout, each stamped with time.monotonic_ns() (CLOCK_MONOTONIC on
Linux, the clock the Swift side stamps with), and one command per line on stdin:
  dial NUMBER   dial(); prints "dial-called" just before the call, "dialled" once dial() returned;
                the call-status callback prints "answered" when the library marks the call answered
  hangup        hang the current call up; prints "ended" once the library stopped polling it
  idle SECONDS  this process's CPU time (schedstat, ns) over a window of SECONDS, and its VmRSS
  quit          close the port and exit
Arguments: PORT [BAUD [COMMANDS_FD]] (commands from stdin without COMMANDS_FD).
Run by hand: .venv/bin/python bench/peer/gsmmodem_prototype.py /dev/pts/N
"""
import time

STARTED_NS = time.monotonic_ns()  # before any import: the interpreter's own start-up is not in here

import json
import os
import sys
import threading

from gsmmodem.modem import GsmModem

_out = threading.Lock()


def emit(event, **fields):
    fields["event"] = event
    fields.setdefault("t", time.monotonic_ns())
    with _out:
        sys.stdout.write(json.dumps(fields) + "\n")
        sys.stdout.flush()


def cpu_ns():
    # schedstat's first field is the time on CPU in ns, per thread: /proc/self/schedstat alone is the main
    # thread, which sleeps in stdin; the library's reader and poll threads are the ones that work.
    total = 0
    for task in os.listdir("/proc/self/task"):
        try:
            with open("/proc/self/task/%s/schedstat" % task) as f:
                total += int(f.read().split()[0])
        except FileNotFoundError:
            pass  # a thread that ended meanwhile
    return total


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def main():
    port = sys.argv[1]
    baud = int(sys.argv[2]) if len(sys.argv) > 2 else 115200
    # The bench hands over a pipe as an inherited descriptor (its process spawner sets no stdin).
    commands = os.fdopen(int(sys.argv[3]), "r") if len(sys.argv) > 3 else sys.stdin

    def incoming_call(call):
        # A prototype would ring the wearer or answer the centre's call back here.
        emit("incoming", number=call.number)

    def call_status(call):
        # Called whenever the library sets call.answered: True once its poll saw the call active.
        if call.answered:
            emit("answered", id=call.id)

    modem = GsmModem(port, baud, incomingCallCallbackFunc=incoming_call)
    connect_started = time.monotonic_ns()
    modem.connect()
    emit("connected", started=STARTED_NS, connect_started=connect_started, rss_kb=rss_kb(),
         polls=bool(modem._mustPollCallStatus))

    call = None
    threads_idle = threading.active_count()
    for line in commands:
        words = line.split()
        if not words:
            continue
        if words[0] == "dial":
            emit("dial-called")
            call = modem.dial(words[1], callStatusUpdateCallbackFunc=call_status)
            emit("dialled", id=call.id)
        elif words[0] == "hangup" and call is not None:
            call.hangup()
            call = None
            # The library's poll thread notices the call is gone on its next AT+CLCC; a dial before that would
            # leave it polling the next call too. Not part of any measured interval.
            while threading.active_count() > threads_idle:
                time.sleep(0.01)
            emit("ended")
        elif words[0] == "idle":
            seconds = float(words[1])
            before, start = cpu_ns(), time.monotonic_ns()
            time.sleep(seconds)
            after, end = cpu_ns(), time.monotonic_ns()
            emit("idle", cpu_ns=after - before, window_ns=end - start, rss_kb=rss_kb())
        elif words[0] == "quit":
            break
    modem.close()


if __name__ == "__main__":
    main()
