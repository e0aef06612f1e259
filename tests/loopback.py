"""The loopback check of the Ray tests: every socket of the processes a test started must
be on 127.0.0.0/8 (or ::1), listening or connected."""

from __future__ import annotations

import ipaddress

import psutil


def on_loopback(ip: str) -> bool:
    """Whether ``ip`` is a loopback address (an IPv4-mapped IPv6 one included)."""
    address = ipaddress.ip_address(ip.split("%")[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def started_here() -> list[psutil.Process]:
    """Every process this test process started, and theirs (Ray's servers and workers)."""
    return psutil.Process().children(recursive=True)


def off_loopback(processes: list[psutil.Process]) -> list[str]:
    """One line for each socket of ``processes`` bound or connected outside loopback."""
    found = []
    for process in processes:
        try:
            sockets = process.net_connections(kind="inet")
            name = process.name()
        except psutil.NoSuchProcess:  # ended since it was listed
            continue
        for s in sockets:
            if s.laddr and not on_loopback(s.laddr.ip):
                found.append(f"{name} ({process.pid}) {s.status} on {s.laddr.ip}:{s.laddr.port}")
            if s.raddr and not on_loopback(s.raddr.ip):
                found.append(f"{name} ({process.pid}) connected to {s.raddr.ip}:{s.raddr.port}")
    return found
