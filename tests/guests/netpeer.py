#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Host side of the `net` test guest (tests/guests/net.c).

Usage: netpeer.py IFNAME GUEST_MAC TIMEOUT_SECONDS

Binds an AF_PACKET raw socket for ethertype 0x88b5 to the TAP IFNAME, prints
"READY", waits for the guest's broadcast frame from GUEST_MAC with payload
"EMBER-NET-TEST" (zero padding allowed), then sends the guest a frame of
ethertype 0x88b5 with payload "EMBER-NET-REPLY". Prints "netpeer: ..." lines;
exit 0 when the reply was sent after a correct frame, 1 otherwise. Standard
library only.
"""
import socket
import struct
import sys
import time

ETH_P = 0x88B5
PING = b"EMBER-NET-TEST"
PONG = b"EMBER-NET-REPLY"
BROADCAST = b"\xff" * 6
ETH_MIN = 60


def mac_bytes(text):
    parts = text.split(":")
    if len(parts) != 6:
        raise ValueError("bad MAC " + text)
    return bytes(int(p, 16) for p in parts)


def mac_text(b):
    return ":".join("%02x" % x for x in b)


def main():
    if len(sys.argv) != 4:
        print("usage: netpeer.py IFNAME GUEST_MAC TIMEOUT_SECONDS", file=sys.stderr)
        return 2
    ifname, guest_mac, timeout = sys.argv[1], mac_bytes(sys.argv[2]), float(sys.argv[3])
    with open("/sys/class/net/%s/address" % ifname) as f:
        own_mac = mac_bytes(f.read().strip())

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P))
    s.bind((ifname, ETH_P))
    print("READY", flush=True)

    deadline = time.monotonic() + timeout
    frames = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            print("netpeer: FAIL: no frame from the guest within %gs (%d others)"
                  % (timeout, frames), flush=True)
            return 1
        s.settimeout(left)
        try:
            data, addr = s.recvfrom(4096)
        except socket.timeout:
            continue
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        frames += 1
        dst, src, payload = data[0:6], data[6:12], data[14:]
        if src != guest_mac:
            print("netpeer: ignoring a frame from %s" % mac_text(src), flush=True)
            continue
        print("netpeer: got %d bytes from %s to %s: %r"
              % (len(data), mac_text(src), mac_text(dst), payload[:len(PING)]), flush=True)
        if dst != BROADCAST:
            print("netpeer: FAIL: destination %s, want broadcast" % mac_text(dst), flush=True)
            return 1
        if not payload.startswith(PING) or payload[len(PING):].strip(b"\0"):
            print("netpeer: FAIL: payload %r, want %r (zero-padded)" % (payload, PING),
                  flush=True)
            return 1
        reply = guest_mac + own_mac + struct.pack("!H", ETH_P) + PONG
        reply += b"\0" * (ETH_MIN - len(reply))
        s.send(reply)
        print("netpeer: sent %r to %s" % (PONG, mac_text(guest_mac)), flush=True)
        return 0


if __name__ == "__main__":
    sys.exit(main())
