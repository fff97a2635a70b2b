#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""dhcp_netns.py - the ProxyDHCP server on a real segment, beside a real
DHCP server, answering real-shaped clients (dhcp_client.py, busybox
udhcpc), in network namespaces made here and removed on exit:

    ns "s": dhcp-harness on br0 10.70.0.1/24 and eth1 10.71.0.1/24
    ns "d": dnsmasq, a plain DHCP server, 10.70.0.2 on br0's segment
    ns "c0": clients on br0's segment      ns "c1": clients on eth1's
    ns "r": dnsmasq relaying DHCP to both servers from ns "c2"'s link

Checked: every client kind's offer field by field, as the wire carries
it (broadcast from port 67 to 68, on the link the request came in on,
with that link's address); the client leases from dnsmasq and boots from
the proxy (DORA, then the PXE port); a client behind a DHCP relay;
plain DHCP clients get nothing from the proxy; refused architectures;
the "seen" callback and its refusal; listen_addr confining the server to
one interface.

Environment: DHCP_HARNESS (the harness binary). Exit 77 when
not root or a tool is missing.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT = os.path.join(HERE, "dhcp_client.py")
TAG = f"adh{os.getpid()}"
NS = {n: f"{TAG}{n}" for n in ("s", "d", "c0", "c1", "r", "c2")}

SRV_A, SRV_B, DNSMASQ = "10.70.0.1", "10.71.0.1", "10.70.0.2"
RELAY_A, RELAY_C = "10.70.0.3", "10.72.0.1"
MAC0 = "52:54:00:70:00:01"


def log(msg):
    print(f"[{time.strftime('%T')}] {msg}", file=sys.stderr, flush=True)


def sh(*args, ns=None, check=True, **kw):
    cmd = (["ip", "netns", "exec", NS[ns]] if ns else []) + list(args)
    return subprocess.run(cmd, check=check, text=True, **kw)


class Failure(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise Failure(what)
    log(f"ok: {what}")


class Harness:
    """dhcp-harness in namespace s; its stdout lines and stderr log."""

    def __init__(self, tmp, *args):
        self.err_path = os.path.join(tmp, f"harness-{time.monotonic()}.log")
        self.err = open(self.err_path, "w")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", NS["s"], os.environ["DHCP_HARNESS"],
             *args], stdout=subprocess.PIPE, stderr=self.err, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("ready"):
            raise Failure(f"harness did not start: {self.log()}")
        self.lines = []
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()

    def read(self):
        for line in self.proc.stdout:
            self.lines.append(line.strip())

    def seen(self):
        """The 'seen' lines so far."""
        return list(self.lines)

    def log(self):
        if not self.err.closed:
            self.err.flush()
        with open(self.err_path) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        self.err.close()
        if "Sanitizer" in self.log() or "runtime error" in self.log():
            raise Failure(f"sanitizer report:\n{self.log()}")


def client(ns, *args):
    out = sh("python3", CLIENT, *args, ns=ns, capture_output=True)
    return json.loads(out.stdout)


def discover(ns, kind, mac, **kw):
    extra = [f"--{k}={v}" for k, v in kw.items()]
    return client(ns, "discover", "eth0", kind, mac, *extra)["replies"]


def from_proxy(replies, server=SRV_A):
    return [r for r in replies if r["ip_src"] == server]


def opt_text(reply, code):
    return bytes.fromhex(reply["options"].get(str(code), "")).decode()


def check_offer(r, mac, server, file, cls="PXEClient", msg="02"):
    """An offer as the wire carries it, field by field."""
    o = r["options"]
    expect(r["eth_dst"] == "ff:ff:ff:ff:ff:ff" and
           r["ip_dst"] == "255.255.255.255" and r["sport"] == 67 and
           r["dport"] == 68, f"{mac}: broadcast from port 67 to 68")
    expect(r["op"] == 2 and r["htype"] == 1 and r["hlen"] == 6 and
           r["flags"] == 0x8000 and r["chaddr"].startswith(
               mac.replace(":", "")), f"{mac}: BOOTREPLY for its chaddr")
    expect(r["yiaddr"] == "0.0.0.0" and r["ciaddr"] == "0.0.0.0",
           f"{mac}: no address leased")
    expect(r["siaddr"] == server and r["sname"] == server and
           o["54"] == bytes(map(int, server.split("."))).hex(),
           f"{mac}: siaddr, sname and option 54 are {server}")
    expect(o["53"] == msg, f"{mac}: message type {msg}")
    expect(opt_text(r, 60) == cls, f"{mac}: option 60 {cls}")
    expect(r["file"] == file, f"{mac}: file {file}")
    if cls == "PXEClient":
        expect(o.get("43") == "060108ff", f"{mac}: PXE discovery control 8")
    else:
        expect("43" not in o and opt_text(r, 67) == file,
               f"{mac}: option 67 is the URL, no option 43")
    expect(o.get("97") == "00" + bytes(range(0x40, 0x50)).hex(),
           f"{mac}: UUID echoed")
    expect(300 <= r["length"] <= 548, f"{mac}: {r['length']} bytes")


def add_netns(*names):
    for n in names:
        sh("ip", "netns", "add", NS[n])
        sh("ip", "link", "set", "lo", "up", ns=n)


def veth(ns, name, peer_ns, peer="eth0"):
    """A veth pair: @name in @ns, @peer in @peer_ns, both up."""
    sh("ip", "link", "add", name, "netns", NS[ns], "type", "veth", "peer",
       "name", peer, "netns", NS[peer_ns])
    sh("ip", "link", "set", name, "up", ns=ns)
    sh("ip", "link", "set", peer, "up", ns=peer_ns)


def start_segment(tmp):
    """Namespace s with bridge br0 (10.70.0.1/24), namespace d on it with
    dnsmasq leasing 10.70.0.100-150. Returns dnsmasq's process."""
    add_netns("s", "d")
    sh("ip", "link", "add", "br0", "type", "bridge", "forward_delay", "0",
       ns="s")
    sh("ip", "addr", "add", f"{SRV_A}/24", "dev", "br0", ns="s")
    sh("ip", "link", "set", "br0", "up", ns="s")
    veth("s", "pd", "d")
    sh("ip", "link", "set", "pd", "master", "br0", ns="s")
    sh("ip", "addr", "add", f"{DNSMASQ}/24", "dev", "eth0", ns="d")
    dnsmasq = subprocess.Popen(
        ["ip", "netns", "exec", NS["d"], "dnsmasq", "--keep-in-foreground",
         "--log-facility=-", "--conf-file=/dev/null", "--port=0",
         "--interface=eth0", "--bind-interfaces", "--no-ping",
         "--dhcp-range=10.70.0.100,10.70.0.150,255.255.255.0,10m",
         "--dhcp-range=10.72.0.100,10.72.0.150,255.255.255.0,10m",
         f"--dhcp-leasefile={tmp}/leases", f"--pid-file={tmp}/dnsmasq.pid",
         "--user=root", "--log-dhcp"],
        stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/dnsmasq.log", "w"))
    for _ in range(100):
        ss = sh("ss", "-lunH", "sport = :67", ns="d", capture_output=True)
        if ss.stdout.strip():
            return dnsmasq
        time.sleep(0.05)
    raise Failure("dnsmasq did not start")


def start_relay(tmp):
    """Router r between br0's segment (10.70.0.3) and client c2's link
    (10.72.0.1), dnsmasq relaying DHCP from c2's link to the proxy and to
    the DHCP server. Returns the relay's process."""
    add_netns("r", "c2")
    veth("s", "pr", "r")
    sh("ip", "link", "set", "pr", "master", "br0", ns="s")
    sh("ip", "addr", "add", f"{RELAY_A}/24", "dev", "eth0", ns="r")
    veth("r", "eth1", "c2")
    sh("ip", "addr", "add", f"{RELAY_C}/24", "dev", "eth1", ns="r")
    for ns in ("s", "d"):
        sh("ip", "route", "add", "10.72.0.0/24", "via", RELAY_A, ns=ns)
    return subprocess.Popen(
        ["ip", "netns", "exec", NS["r"], "dnsmasq", "--keep-in-foreground",
         "--log-facility=-", "--conf-file=/dev/null", "--port=0",
         f"--dhcp-relay={RELAY_C},{SRV_A}", f"--dhcp-relay={RELAY_C},{DNSMASQ}",
         f"--pid-file={tmp}/relay.pid", "--user=root"],
        stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/relay.log", "w"))


def setup(tmp):
    """The segment, client c0 on br0, client c1 on a second link of s,
    client c2 behind a relay. Returns the dnsmasq processes."""
    dnsmasq = start_segment(tmp)
    add_netns("c0", "c1")
    veth("s", "pc0", "c0")
    sh("ip", "link", "set", "pc0", "master", "br0", ns="s")
    sh("ip", "link", "set", "eth0", "address", MAC0, ns="c0")
    veth("s", "eth1", "c1")
    sh("ip", "addr", "add", f"{SRV_B}/24", "dev", "eth1", ns="s")
    return [dnsmasq, start_relay(tmp)]


def cleanup(procs):
    for p in procs:
        if p and p.poll() is None:
            p.kill()
            p.wait()
    for ns in NS.values():
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)


def root_and_tools(*tools):
    """None if the test can run here, else why not."""
    if os.geteuid() != 0:
        return "needs root"
    for tool in ("ip", "dnsmasq", "ss", *tools):
        if not shutil.which(tool):
            return f"needs {tool}"
    return None


def report(tmp):
    """The logs of a failed run, on stderr."""
    for name in sorted(os.listdir(tmp)):
        if name.endswith(".log"):
            with open(os.path.join(tmp, name), errors="replace") as f:
                log(f"--- {name}\n{f.read()[-3000:]}")


def test_plain_client(h, tmp):
    """busybox udhcpc leases from dnsmasq; the proxy stays silent."""
    script = os.path.join(tmp, "udhcpc.sh")
    with open(script, "w") as f:
        f.write(f'#!/bin/sh\n[ "$1" = bound ] && env > {tmp}/udhcpc.env\n'
                'exit 0\n')
    os.chmod(script, 0o755)
    listener = subprocess.Popen(
        ["ip", "netns", "exec", NS["c0"], "python3", CLIENT, "listen",
         "eth0", "4"], stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    sh("busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "3", "-T",
       "1", "-s", script, ns="c0", capture_output=True)
    seen_replies = json.loads(listener.communicate(timeout=10)[0])["replies"]
    with open(f"{tmp}/udhcpc.env") as f:
        env = dict(line.split("=", 1) for line in f.read().splitlines()
                   if "=" in line)
    expect(env.get("ip", "").startswith("10.70.0.1") and
           env.get("serverid") == DNSMASQ,
           f"udhcpc leased {env.get('ip')} from dnsmasq")
    expect("boot_file" not in env, "udhcpc got no boot file")
    expect(seen_replies and not from_proxy(seen_replies),
           f"{len(seen_replies)} replies on the segment, none from the proxy")
    expect(MAC0 not in " ".join(h.seen()) and MAC0 not in h.log(),
           "the proxy neither saw nor logged the plain client")
    replies = discover("c0", "plain", "52:54:00:70:00:02")
    expect(len(replies) == 1 and replies[0]["ip_src"] == DNSMASQ,
           "a plain DISCOVER: dnsmasq's offer only")


def test_kinds(h):
    """Each firmware gets its own boot file; dnsmasq offers an address."""
    cases = (
        ("bios", "52:54:00:70:01:00", "netboot/undionly.kpxe", "PXEClient"),
        ("efi", "52:54:00:70:01:07", "netboot/ipxe.efi", "PXEClient"),
        ("http", "52:54:00:70:01:16",
         f"http://{SRV_A}:8090/netboot/ipxe.efi", "HTTPClient"),
        ("ipxe", "52:54:00:70:01:aa",
         f"http://{SRV_A}:8090/netboot/52:54:00:70:01:aa/ipxe", "PXEClient"),
    )
    for kind, mac, file, cls in cases:
        replies = discover("c0", kind, mac)
        proxy = from_proxy(replies)
        lease = [r for r in replies if r["ip_src"] == DNSMASQ]
        expect(len(proxy) == 1 and len(lease) == 1 and
               lease[0]["yiaddr"].startswith("10.70.0.1"),
               f"{kind}: one offer from each server")
        check_offer(proxy[0], mac, SRV_A, file, cls)
    # a DHCPREQUEST naming the proxy, on port 67: an ACK
    mac = "52:54:00:70:01:08"
    r = from_proxy(discover("c0", "efi", mac, type="request", server=SRV_A))
    expect(len(r) == 1, "a DHCPREQUEST to port 67 naming the proxy: an ACK")
    check_offer(r[0], mac, SRV_A, "netboot/ipxe.efi", msg="05")
    r = from_proxy(discover("c0", "efi", mac, type="request", wait=1))
    expect(not r, "a DHCPREQUEST naming no server (a renewal): no answer")
    seen = h.seen()
    expect("seen 52:54:00:70:01:00 0 0" in seen and
           "seen 52:54:00:70:01:16 16 0" in seen and
           "seen 52:54:00:70:01:aa 7 1" in seen,
           "the seen callback heard each machine, its arch and iPXE")
    log_text = h.log()
    expect("DHCP: Offering to boot 52:54:00:70:01:00 (x86 BIOS): "
           "netboot/undionly.kpxe" in log_text,
           "the offer is logged as AuroraBoot does")
    expect("not added: No space left on device" in log_text,
           "the callback's refusal (--machines 3) is logged, and the "
           "machines beyond it were answered all the same")


def test_repeat_and_refusal(h):
    mac = "52:54:00:70:02:00"
    for _ in range(3):
        expect(len(from_proxy(discover("c0", "bios", mac, wait=0.5))) == 1,
               "a retrying client is answered each time")
    expect(h.log().count(f"Offering to boot {mac}") == 1,
           "and logged once")
    mac = "52:54:00:70:02:11"
    for _ in range(2):
        replies = discover("c0", "arm64", mac, wait=1)
        expect(not from_proxy(replies) and len(replies) == 1,
               "arm64: dnsmasq's offer only")
    text = h.log()
    expect(text.count(f"not booting {mac} (ARM 64-bit UEFI)") == 1,
           "arm64: one log line naming its MAC and architecture")


def test_dora(h):
    """The PXE sequence: lease from dnsmasq, boot file from the proxy's
    PXE port, unicast to the leased address."""
    out = client("c0", "dora", "eth0", "efi")
    ack, pack = out["ack"], out["proxy_ack"]
    expect(ack and ack["ip_src"] == DNSMASQ and
           ack["yiaddr"].startswith("10.70.0.1"),
           f"dnsmasq ACKed {ack and ack['yiaddr']}")
    expect(pack is not None, "the proxy ACKed on the PXE port")
    expect(pack["ip_src"] == SRV_A and pack["sport"] == 4011 and
           pack["options"]["53"] == "05" and
           pack["ciaddr"] == ack["yiaddr"] and pack["yiaddr"] == "0.0.0.0" and
           pack["file"] == "netboot/ipxe.efi" and
           opt_text(pack, 60) == "PXEClient",
           "its ACK: from port 4011, ciaddr kept, the EFI boot file")
    expect(f"Offering to boot {MAC0} (x86-64 UEFI)" in h.log(),
           "the PXE client is logged once it asked")


def test_multihomed(h):
    """A client on the second link is answered there, with that link's
    address; nothing leaks onto the first."""
    listener = subprocess.Popen(
        ["ip", "netns", "exec", NS["c0"], "python3", CLIENT, "listen",
         "eth0", "2"], stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    mac = "52:54:00:71:00:07"
    replies = discover("c1", "efi", mac)
    leaked = json.loads(listener.communicate(timeout=10)[0])["replies"]
    expect(len(replies) == 1 and replies[0]["ip_src"] == SRV_B,
           "the second link's client: one offer, from 10.71.0.1")
    check_offer(replies[0], mac, SRV_B, "netboot/ipxe.efi")
    expect(not leaked, "nothing went out on the first link")


def test_relayed(h):
    """Behind a relay: the offer goes to the relay (giaddr, port 67),
    which hands it to the client; dnsmasq leases on that link too."""
    mac = "52:54:00:72:00:07"
    replies = discover("c2", "efi", mac)
    proxy = [r for r in replies if r["options"].get("54") == "0a460001"]
    lease = [r for r in replies if r["yiaddr"].startswith("10.72.0.1")]
    expect(len(proxy) == 1 and len(lease) == 1,
           "relayed: one offer from each server")
    r = proxy[0]
    expect(r["ip_src"] == RELAY_C and r["sport"] == 67 and
           r["giaddr"] == RELAY_C,
           "relayed: the offer came back through the relay, giaddr kept")
    expect(r["siaddr"] == SRV_A and r["file"] == "netboot/ipxe.efi" and
           r["yiaddr"] == "0.0.0.0" and opt_text(r, 60) == "PXEClient",
           "relayed: the proxy's answer, the server's own address in it")


def test_listen_addr(tmp):
    """listen_addr: only the interface holding it is served."""
    h = Harness(tmp, "--listen", SRV_A)
    try:
        expect("of br0" in h.log(), "bound to br0, the holder of 10.70.0.1")
        r = from_proxy(discover("c0", "bios", "52:54:00:70:03:00"))
        expect(len(r) == 1, "its link is answered")
        check_offer(r[0], "52:54:00:70:03:00", SRV_A, "netboot/undionly.kpxe")
        r = discover("c1", "bios", "52:54:00:71:03:00")
        expect(not r, "the other link is not")
    finally:
        h.stop()


def main():
    why = root_and_tools("busybox")
    if why:
        print(f"SKIP: {why}")
        return 77
    tmp = tempfile.mkdtemp(prefix="aurorafs-dhcp.")
    procs = []
    try:
        procs += setup(tmp)
        h = Harness(tmp, "--machines", "3")
        procs.append(h.proc)
        test_plain_client(h, tmp)
        test_kinds(h)
        test_repeat_and_refusal(h)
        test_multihomed(h)
        test_relayed(h)
        test_dora(h)
        h.stop()
        test_listen_addr(tmp)
        log("all passed")
        return 0
    except (Failure, subprocess.CalledProcessError,
            subprocess.TimeoutExpired) as e:
        log(f"FAIL: {e}")
        report(tmp)
        return 1
    finally:
        cleanup(procs)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
