#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""dhcp_boot.py - real firmware booting through the ProxyDHCP server,
under QEMU (TCG) on a tap in the namespaces of dhcp_netns.py, with
dnsmasq leasing the addresses, dnsmasq's TFTP server and python's HTTP
server serving what the boot files name:

  bios      SeaBIOS and the NIC's iPXE ROM (arch 0, user class iPXE):
            given its script's URL, fetches it
  efi-pxe   OVMF's own PXE (arch 7, the NIC ROM left out): given
            netboot/ipxe.efi, fetches it by TFTP; that iPXE, asking
            again, is given its script's URL and fetches it
  efi-http  OVMF's HTTP boot (arch 16, HTTPClient; OVMF's PXE switched
            off): given the URL of netboot/ipxe.efi, fetches it; then
            as above

Each run ends when the machine's script has been fetched (it powers the
machine off). Environment: DHCP_HARNESS. Exit 77 when not root or QEMU,
OVMF or iPXE is missing.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

from dhcp_netns import (NS, SRV_A, Failure, Harness, cleanup, expect, log,
                        report, root_and_tools, sh, start_segment)

IPXE_DIR = "/usr/lib/ipxe"
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"
BOOT_SECONDS = 240


def serve_files(tmp, macs):
    """The tree the TFTP and HTTP servers serve: the iPXE binaries and
    one script per machine, which powers it off."""
    root = os.path.join(tmp, "root")
    os.makedirs(os.path.join(root, "netboot"))
    for f in ("undionly.kpxe", "ipxe.efi"):
        shutil.copy(os.path.join(IPXE_DIR, f), os.path.join(root, "netboot"))
    for mac in macs:
        os.makedirs(os.path.join(root, "netboot", mac))
        with open(os.path.join(root, "netboot", mac, "ipxe"), "w") as f:
            f.write("#!ipxe\necho aurorafs-dhcp-boot ${mac}\npoweroff\n")
    return root


def start_servers(tmp, root):
    tftp = subprocess.Popen(
        ["ip", "netns", "exec", NS["s"], "dnsmasq", "--keep-in-foreground",
         "--log-facility=-", "--conf-file=/dev/null", "--port=0",
         "--interface=br0", "--bind-interfaces", "--enable-tftp",
         f"--tftp-root={root}", f"--pid-file={tmp}/tftp.pid",
         "--user=root"],
        stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/tftp.log", "w"))
    http = subprocess.Popen(
        ["ip", "netns", "exec", NS["s"], "python3", "-m", "http.server",
         "--bind", SRV_A, "--directory", root, "8090"],
        stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/http.log", "w"))
    for _ in range(100):
        ss = sh("ss", "-ltnH", "sport = :8090", ns="s", capture_output=True)
        if ss.stdout.strip():
            return [tftp, http]
        time.sleep(0.05)
    raise Failure("the HTTP server did not start")


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def boot(tmp, name, mac, args):
    """Boot a machine until its script is fetched; the QEMU command's
    extra @args choose the firmware."""
    script = f"GET /netboot/{mac.replace(':', '%3A')}/ipxe"
    serial = os.path.join(tmp, f"qemu-{name}.log")
    qemu = subprocess.Popen(
        ["ip", "netns", "exec", NS["s"], "qemu-system-x86_64", "-accel",
         "tcg", "-m", "512", "-display", "none", "-serial",
         f"file:{serial}", "-no-reboot", "-netdev",
         "tap,id=n0,ifname=tap0,script=no,downscript=no", *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    start = time.monotonic()
    try:
        while script not in read(f"{tmp}/http.log"):
            if time.monotonic() - start > BOOT_SECONDS:
                raise Failure(f"{name}: no script fetched in "
                              f"{BOOT_SECONDS} s")
            if qemu.poll() is not None:
                raise Failure(f"{name}: QEMU ended ({qemu.returncode})")
            time.sleep(0.5)
        log(f"{name}: script fetched after {time.monotonic() - start:.0f} s")
    finally:
        if qemu.poll() is None:
            qemu.kill()
        qemu.wait()


def nic(mac, rom=None):
    dev = f"virtio-net-pci,netdev=n0,mac={mac}"
    return ["-device", dev + (f",romfile={rom}" if rom is not None else "")]


def ovmf(tmp, name):
    vars_copy = os.path.join(tmp, f"vars-{name}.fd")
    shutil.copy(OVMF_VARS, vars_copy)
    return ["-M", "q35",
            "-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
            "-drive", f"if=pflash,format=raw,file={vars_copy}"]


def test_bios(tmp, h):
    mac = "52:54:00:70:0b:00"
    boot(tmp, "bios", mac, nic(mac) + ["-boot", "n"])
    expect(f"Offering to boot {mac} (x86 BIOS, iPXE): "
           f"http://{SRV_A}:8090/netboot/{mac}/ipxe" in h.log(),
           "bios: the iPXE ROM was offered its script")


def test_efi_pxe(tmp, h):
    mac = "52:54:00:70:0e:07"
    boot(tmp, "efi-pxe", mac, ovmf(tmp, "pxe") + nic(mac, rom=""))
    text = h.log()
    expect(f"Offering to boot {mac} (x86-64 UEFI): netboot/ipxe.efi" in text,
           "efi-pxe: OVMF's PXE was offered netboot/ipxe.efi")
    expect("sent " + os.path.join(tmp, "root", "netboot", "ipxe.efi") in
           read(f"{tmp}/tftp.log"),
           "efi-pxe: and fetched it by TFTP from siaddr")
    expect(f"Offering to boot {mac} (x86-64 UEFI, iPXE)" in text,
           "efi-pxe: that iPXE was offered its script")


def test_efi_http(tmp, h):
    mac = "52:54:00:70:0e:16"
    pxe_off = ["-fw_cfg", "name=opt/org.tianocore/IPv4PXESupport,string=n",
               "-fw_cfg", "name=opt/org.tianocore/IPv6PXESupport,string=n"]
    boot(tmp, "efi-http", mac, ovmf(tmp, "http") + pxe_off + nic(mac, rom=""))
    expect(f"Offering to boot {mac} (x86-64 UEFI HTTP): "
           f"http://{SRV_A}:8090/netboot/ipxe.efi" in h.log(),
           "efi-http: OVMF's HTTP boot was offered the URL")
    expect("GET /netboot/ipxe.efi" in read(f"{tmp}/http.log"),
           "efi-http: and fetched it")


def main():
    why = root_and_tools("qemu-system-x86_64")
    for f in (OVMF_CODE, OVMF_VARS, f"{IPXE_DIR}/ipxe.efi"):
        if not why and not os.path.exists(f):
            why = f"needs {f}"
    if why:
        print(f"SKIP: {why}")
        return 77
    tmp = tempfile.mkdtemp(prefix="aurorafs-dhcpboot.")
    procs = []
    try:
        procs.append(start_segment(tmp))
        sh("ip", "tuntap", "add", "tap0", "mode", "tap", ns="s")
        sh("ip", "link", "set", "tap0", "master", "br0", "up", ns="s")
        root = serve_files(tmp, ["52:54:00:70:0b:00", "52:54:00:70:0e:07",
                                 "52:54:00:70:0e:16"])
        procs += start_servers(tmp, root)
        h = Harness(tmp)
        procs.append(h.proc)
        test_bios(tmp, h)
        test_efi_pxe(tmp, h)
        test_efi_http(tmp, h)
        h.stop()
        log("all passed")
        return 0
    except (Failure, subprocess.CalledProcessError) as e:
        log(f"FAIL: {e}")
        report(tmp)
        return 1
    finally:
        cleanup(procs)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
