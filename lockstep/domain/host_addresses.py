"""How an ssh target's `hosts` entries are read and how Lockstep names a host.

Owns `parse_address` (`host`, `host:port`, `[v6]:port` -> host and port) and `host_label` (the
name step records, the journal and messages use). Pure: the settings check every entry with it
when the server configuration loads, and the ssh adapter connects with it.
"""

from __future__ import annotations

from lockstep.domain.errors import ConfigError


def parse_address(address: str, default_port: int) -> tuple[str, int]:
    """`host`, `host:port` or `[v6]:port` -> (host, port); a bare IPv6 address takes the default.

    Raises ConfigError naming the entry for an empty host, a port that is empty after `:` or
    `]:`, or a port outside 1-65535.
    """
    host, port = address.strip(), default_port
    has_port = False
    if host.startswith("["):
        inner, closed, rest = host[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")):
            raise ConfigError(f"ssh host {address!r}: write an IPv6 address as [addr] or [addr]:port")
        host, has_port, port_text = inner, bool(rest), rest.removeprefix(":")
    elif host.count(":") == 1:
        host, port_text = host.split(":")
        has_port = True
    else:
        port_text = ""
    if has_port:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigError(f"ssh host {address!r}: the port must be a number from 1 to 65535")
        port = int(port_text)
    if not host:
        raise ConfigError(f"ssh host {address!r}: no host name")
    return host, port


def host_label(host: str, port: int) -> str:
    """How Lockstep names a host (connections, step records, the journal): `host:port`, with an
    IPv6 address in brackets so the port stays readable (`[::1]:2222`)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def check_hosts(addresses: list[str], default_port: int) -> None:
    """Every entry parses, and no two name the same host and port (`10.0.0.5` and
    `10.0.0.5:22` would share one journal entry and be deployed twice)."""
    seen: dict[str, str] = {}
    for address in addresses:
        label = host_label(*parse_address(address, default_port))
        if label in seen:
            raise ConfigError(f"ssh hosts {seen[label]!r} and {address!r} are the same host ({label})")
        seen[label] = address
