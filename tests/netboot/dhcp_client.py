#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""dhcp_client.py - a DHCP client that speaks as boot firmware does, for
the ProxyDHCP tests. It sends whole Ethernet frames from address 0.0.0.0
on a raw socket (as a PXE ROM does before it has an address) and reports
every reply it sees, decoded field by field (its own decoder, not the
server's), as JSON on stdout.

  dhcp_client.py discover IFACE KIND MAC [--type discover|request]
                 [--server ADDR] [--xid N] [--wait SECONDS]
      one request (naming server ADDR in option 54); prints
      {"replies": [...]} (all replies with its xid)
  dhcp_client.py dora IFACE KIND [--wait SECONDS] [--pxe-port N]
      as a PXE client with the interface's MAC: DISCOVER, REQUEST the
      offer that leases an address, take the address, then DHCPREQUEST
      the ProxyDHCP offer's server on the PXE port from that address;
      prints {"offers": [...], "ack": {...}, "proxy_ack": {...}}
  dhcp_client.py listen IFACE SECONDS
      prints {"replies": [...]}: every DHCP reply seen meanwhile
  dhcp_client.py seeds DIR
      writes one request of each kind to DIR (fuzzing seeds)

KIND: bios (PXE ROM, arch 0), efi (OVMF PXE, arch 7), http (OVMF HTTP
boot, arch 16), ipxe (iPXE, options 77 and 175), plain (udhcpc-like, no
PXE), arm64 (UEFI arm64, arch 11).
"""
import argparse
import ipaddress
import json
import os
import random
import select
import socket
import struct
import subprocess
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
DISCOVER, OFFER, REQUEST, ACK = 1, 2, 3, 5
MAGIC = b"\x63\x82\x53\x63"
UUID = bytes([0]) + bytes(range(0x40, 0x50))


def opt(code, data):
    return bytes([code, len(data)]) + data


def u16(v):
    return struct.pack("!H", v)


def kind_options(kind, mac):
    """The options after 53, in the order each firmware sends them."""
    client_id = opt(61, b"\x01" + mac)
    edk2_params = bytes([1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28,
                         40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66, 67, 97,
                         128, 129, 130, 131, 132, 133, 134, 135])

    def edk2(arch, cls):
        return (opt(57, u16(1464)) + opt(55, edk2_params) + opt(97, UUID) +
                opt(94, b"\x01\x03\x00") + opt(93, u16(arch)) +
                opt(60, cls.encode()))

    if kind == "bios":
        params = bytes([1, 2, 3, 5, 6, 11, 12, 13, 15, 16, 17, 18, 43, 54,
                        60, 67, 128, 129, 130, 131, 132, 133, 134, 135])
        return (opt(57, u16(1260)) + opt(93, u16(0)) +
                opt(94, b"\x01\x02\x01") + opt(97, UUID) + opt(55, params) +
                opt(60, b"PXEClient:Arch:00000:UNDI:002001"))
    if kind == "efi":
        return edk2(7, "PXEClient:Arch:00007:UNDI:003000")
    if kind == "http":
        return edk2(16, "HTTPClient:Arch:00016:UNDI:003000")
    if kind == "arm64":
        return edk2(11, "PXEClient:Arch:00011:UNDI:003000")
    if kind == "ipxe":
        features = bytes([0xb1, 5, 1, 0x10, 0xec, 0x81, 0x39, 0x10, 1, 1,
                          0x13, 1, 1, 0x15, 1, 1, 0x18, 1, 1, 0x27, 1, 1])
        params = bytes([1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128,
                        129, 130, 131, 132, 133, 134, 135, 175, 203])
        return (opt(57, u16(1472)) + opt(93, u16(7)) +
                opt(94, b"\x01\x03\x0a") +
                opt(60, b"PXEClient:Arch:00007:UNDI:003010") +
                opt(77, b"iPXE") + opt(175, features) + client_id +
                opt(97, UUID) + opt(55, params))
    if kind == "plain":
        return (client_id + opt(60, b"udhcp 1.35.0") +
                opt(55, bytes([1, 3, 6, 12, 15, 28, 42])))
    raise SystemExit(f"dhcp_client: unknown kind {kind!r}")


def request(kind, mac, xid, msg_type=DISCOVER, ciaddr="0.0.0.0", extra=b""):
    """A DHCP request (the UDP payload)."""
    header = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 3,
                         0x8000, socket.inet_aton(ciaddr), bytes(4), bytes(4),
                         bytes(4), mac, b"", b"")
    return (header + MAGIC + opt(53, bytes([msg_type])) +
            kind_options(kind, mac) + extra + b"\xff")


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def frame(mac, payload):
    """Ethernet broadcast of @payload from 0.0.0.0:68 to
    255.255.255.255:67."""
    udp = struct.pack("!HHHH", 68, 67, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17,
                     0, bytes(4), b"\xff" * 4)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return b"\xff" * 6 + mac + struct.pack("!H", ETH_P_IP) + ip + udp


def decode_options(data, out):
    i = 0
    while i < len(data):
        code = data[i]
        if code == 0:
            i += 1
            continue
        if code == 255:
            return
        if i + 1 >= len(data) or i + 2 + data[i + 1] > len(data):
            raise ValueError(f"option {code} runs past the end")
        out.setdefault(str(code), "")
        out[str(code)] += data[i + 2:i + 2 + data[i + 1]].hex()
        i += 2 + data[i + 1]


def decode_dhcp(p):
    (op, htype, hlen, hops, xid, secs, flags, ci, yi, si, gi, ch, sname,
     file) = struct.unpack("!BBBBIHH4s4s4s4s16s64s128s", p[:236])
    if p[236:240] != MAGIC:
        raise ValueError("no magic cookie")
    options = {}
    decode_options(p[240:], options)
    return {
        "op": op, "htype": htype, "hlen": hlen, "hops": hops, "xid": xid,
        "secs": secs, "flags": flags, "ciaddr": socket.inet_ntoa(ci),
        "yiaddr": socket.inet_ntoa(yi), "siaddr": socket.inet_ntoa(si),
        "giaddr": socket.inet_ntoa(gi), "chaddr": ch.hex(),
        "sname": sname.split(b"\0")[0].decode(errors="replace"),
        "file": file.split(b"\0")[0].decode(errors="replace"),
        "options": options, "length": len(p),
    }


def decode_frame(f):
    """The DHCP reply in Ethernet frame @f, or None."""
    if len(f) < 42 or struct.unpack("!H", f[12:14])[0] != ETH_P_IP:
        return None
    ihl = (f[14] & 0x0f) * 4
    if f[23] != 17:
        return None
    ip_src, ip_dst = socket.inet_ntoa(f[26:30]), socket.inet_ntoa(f[30:34])
    u = 14 + ihl
    sport, dport, ulen = struct.unpack("!HHH", f[u:u + 6])
    if dport != 68 and sport not in (67, 4011):
        return None
    payload = f[u + 8:u + ulen]
    if len(payload) < 240 or payload[0] != 2:
        return None
    d = decode_dhcp(payload)
    d.update({"eth_dst": f[0:6].hex(":"), "eth_src": f[6:12].hex(":"),
              "ip_src": ip_src, "ip_dst": ip_dst, "sport": sport,
              "dport": dport})
    return d


def raw_socket(iface):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                      socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    return s


def collect(sock, seconds, want=lambda d: True, stop=lambda got: False):
    got = []
    end = time.monotonic() + seconds
    while not stop(got):
        left = end - time.monotonic()
        if left <= 0 or not select.select([sock], [], [], left)[0]:
            break
        f, info = sock.recvfrom(65535)
        if info[2] == socket.PACKET_OUTGOING:
            continue
        d = decode_frame(f)
        if d and want(d):
            got.append(d)
    return got


def iface_mac(iface):
    with open(f"/sys/class/net/{iface}/address") as f:
        return bytes.fromhex(f.read().strip().replace(":", ""))


def cmd_discover(a):
    mac = bytes.fromhex(a.mac.replace(":", ""))
    xid = a.xid if a.xid is not None else random.getrandbits(32)
    msg_type = DISCOVER if a.type == "discover" else REQUEST
    extra = opt(54, socket.inet_aton(a.server)) if a.server else b""
    with raw_socket(a.iface) as s:
        s.send(frame(mac, request(a.kind, mac, xid, msg_type, extra=extra)))
        replies = collect(s, a.wait, lambda d: d["xid"] == xid)
    print(json.dumps({"xid": xid, "replies": replies}))


def proxy_request(kind, mac, ip, server, port, xid, wait):
    """DHCPREQUEST to the boot server @server:@port from @ip:68."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        u.bind((ip, 68))
        u.sendto(request(kind, mac, xid, REQUEST, ciaddr=ip,
                         extra=opt(54, socket.inet_aton(server))),
                 (server, port))
        if not select.select([u], [], [], wait)[0]:
            return None
        data, src = u.recvfrom(65535)
        d = decode_dhcp(data)
        d.update({"ip_src": src[0], "sport": src[1]})
        return d


def cmd_dora(a):
    mac = iface_mac(a.iface)
    xid = random.getrandbits(32)
    with raw_socket(a.iface) as s:
        s.send(frame(mac, request(a.kind, mac, xid)))
        offers = collect(s, a.wait, lambda d: d["xid"] == xid)
        lease = next((o for o in offers if o["yiaddr"] != "0.0.0.0"), None)
        proxy = next((o for o in offers if o["yiaddr"] == "0.0.0.0"), None)
        if not lease or not proxy:
            print(json.dumps({"offers": offers, "ack": None,
                              "proxy_ack": None}))
            return
        server_id = bytes.fromhex(lease["options"]["54"])
        extra = opt(50, socket.inet_aton(lease["yiaddr"])) + opt(54, server_id)
        s.send(frame(mac, request(a.kind, mac, xid, REQUEST, extra=extra)))
        acks = collect(s, a.wait,
                       lambda d: d["xid"] == xid and
                       d["options"].get("53") == "05",
                       lambda got: len(got) > 0)
    ack = acks[0] if acks else None
    proxy_ack = None
    if ack:
        prefix = ipaddress.IPv4Address(bytes.fromhex(ack["options"]["1"]))
        plen = bin(int(prefix)).count("1")
        subprocess.run(["ip", "addr", "add", f"{ack['yiaddr']}/{plen}",
                        "dev", a.iface], check=True)
        proxy_ack = proxy_request(
            a.kind, mac, ack["yiaddr"],
            socket.inet_ntoa(bytes.fromhex(proxy["options"]["54"])),
            a.pxe_port, random.getrandbits(32), a.wait)
    print(json.dumps({"offers": offers, "ack": ack, "proxy_ack": proxy_ack}))


def cmd_listen(a):
    with raw_socket(a.iface) as s:
        print(json.dumps({"replies": collect(s, a.seconds)}))


def overloaded(mac):
    """A DISCOVER whose options spill into file and sname (option 52),
    the vendor class split in three (RFC 3396)."""
    p = bytearray(request("plain", mac, 0x5678)[:240])
    file = opt(60, b"ient:Arch:00007") + opt(93, u16(7)) + b"\xff"
    sname = opt(60, b":UNDI:003000") + opt(97, UUID) + b"\xff"
    p[108:108 + len(file)] = file
    p[44:44 + len(sname)] = sname
    return (bytes(p) + opt(53, bytes([DISCOVER])) + opt(52, b"\x03") +
            opt(60, b"PXECl") + b"\xff")


def cmd_seeds(a):
    os.makedirs(a.dir, exist_ok=True)
    mac = bytes.fromhex("525400c0ffee")
    for kind in ("bios", "efi", "http", "ipxe", "plain", "arm64"):
        for name, t in (("discover", DISCOVER), ("request", REQUEST)):
            with open(os.path.join(a.dir, f"{kind}-{name}"), "wb") as f:
                f.write(request(kind, mac, 0x1234, t))
    relayed = bytearray(request("efi", mac, 0x9abc))
    relayed[3] = 1
    relayed[24:28] = socket.inet_aton("10.9.0.1")
    with open(os.path.join(a.dir, "efi-relayed"), "wb") as f:
        f.write(relayed)
    with open(os.path.join(a.dir, "overloaded"), "wb") as f:
        f.write(overloaded(mac))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("discover")
    d.add_argument("iface")
    d.add_argument("kind")
    d.add_argument("mac")
    d.add_argument("--type", choices=("discover", "request"),
                   default="discover")
    d.add_argument("--server")
    d.add_argument("--xid", type=int)
    d.add_argument("--wait", type=float, default=1.5)
    d.set_defaults(fn=cmd_discover)
    r = sub.add_parser("dora")
    r.add_argument("iface")
    r.add_argument("kind")
    r.add_argument("--wait", type=float, default=2.0)
    r.add_argument("--pxe-port", type=int, default=4011)
    r.set_defaults(fn=cmd_dora)
    li = sub.add_parser("listen")
    li.add_argument("iface")
    li.add_argument("seconds", type=float)
    li.set_defaults(fn=cmd_listen)
    se = sub.add_parser("seeds")
    se.add_argument("dir")
    se.set_defaults(fn=cmd_seeds)
    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
