"""Outbound HTTP to hosts that callers name, which never reaches the operator's own network.

Where a user's input decides the host the service connects to (a container registry in a
benchmark's ``docker_image``, a token realm or a redirect such a registry sends), the
service must not become a client of addresses behind the firewall (SSRF). The rule is "a
host the operator lists is trusted as written; everything else is refused": a listed IP
address is connected to as it is, whatever range it is in; any name, listed or not, is
resolved, and refused if any of its addresses is loopback, link-local, private, reserved,
multicast, unspecified or otherwise not globally routable (:func:`refused_because`). The
check happens inside each connection, which then connects to the address it just checked,
so DNS rebinding cannot swap it; environment proxies are not used, since the proxy, not the
checked address, would be connected to.

:class:`GuardedAdapter` is mounted on a ``requests.Session``; a refused connection raises
:class:`RefusedAddress` (not an OSError: urllib3 and requests let it through).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Collection

from requests.adapters import HTTPAdapter
from urllib3 import PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import create_connection


def refused_because(address: str) -> str | None:
    """Why the check never connects to ``address`` (an IP address) unless an operator listed
    it, e.g. ``"loopback"``; None for a globally routable unicast address."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    for reason, applies in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("not globally routable", not ip.is_global),
    ):
        if applies:
            return reason
    return None


class RefusedAddress(Exception):  # not an OSError: urllib3 and requests let it through
    """A connection the address policy refused; the message says where and why."""


def _split_host_port(entry: str) -> tuple[str, int | None]:
    """``("127.0.0.1", 5000)`` from ``127.0.0.1:5000``; brackets of IPv6 literals dropped."""
    host, port = entry, None
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    elif entry.count(":") == 1:
        name, _, digits = entry.partition(":")
        if digits.isdigit():
            host, port = name, int(digits)
    return host, port


def _ip_or_none(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


class AddressPolicy:
    """Which addresses a check connects to: listed IP addresses as written (at their port,
    or the scheme's default port when the entry has none), and otherwise only names and
    addresses whose every address is globally routable."""

    def __init__(self, listed: Collection[str]) -> None:
        self.listed_addresses: set[tuple[str, int | None]] = set()
        for entry in listed:
            host, port = _split_host_port(entry)
            ip = _ip_or_none(host)
            if ip is not None:
                self.listed_addresses.add((ip, port))

    def addresses(self, host: str, port: int, default_port: int) -> list[str]:
        """The addresses to connect to for ``host:port``; raises :class:`RefusedAddress`."""
        ip = _ip_or_none(host)
        if ip is not None:
            listed = (ip, port) in self.listed_addresses or (
                port == default_port and (ip, None) in self.listed_addresses
            )
            reason = None if listed else refused_because(ip)
            if reason:
                raise RefusedAddress(f"{host}:{port} is a {reason} address")
            return [ip]
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
        for address in addresses:
            reason = refused_because(address)
            if reason:
                raise RefusedAddress(f"{host}:{port} resolves to {address} ({reason})")
        return addresses

    def connect(self, connection: HTTPConnection) -> socket.socket:
        """Open ``connection``'s socket to an address checked just now (urllib3's
        ``_new_conn`` resolves again, which would let DNS answer differently)."""
        try:
            addresses = self.addresses(connection.host, connection.port, connection.default_port)
        except socket.gaierror as error:
            raise NameResolutionError(connection.host, connection, error) from error
        failure: Exception | None = None
        for address in addresses:
            try:
                return create_connection(
                    (address, connection.port),
                    connection.timeout,
                    source_address=connection.source_address,
                    socket_options=connection.socket_options,
                )
            except TimeoutError as error:
                raise ConnectTimeoutError(
                    connection, f"Connection to {connection.host} timed out."
                ) from error
            except OSError as error:
                failure = NewConnectionError(connection, f"Failed to connect: {error}")
        raise failure or NewConnectionError(connection, "no address to connect to")


class _GuardedConnection:
    """Mixin for urllib3's connections: the socket comes from the address policy."""

    def __init__(self, *args, address_policy: AddressPolicy, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.address_policy = address_policy

    def _new_conn(self) -> socket.socket:
        return self.address_policy.connect(self)


class _GuardedHTTPConnection(_GuardedConnection, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnection, HTTPSConnection):
    pass


class _GuardedPoolManager(PoolManager):
    """urllib3's pool manager whose pools make guarded connections."""

    _CONNECTIONS = {"http": _GuardedHTTPConnection, "https": _GuardedHTTPSConnection}

    def __init__(self, address_policy: AddressPolicy, **kwargs) -> None:
        super().__init__(**kwargs)
        self.address_policy = address_policy

    def _new_pool(self, scheme, host, port, request_context=None):
        pool = super()._new_pool(scheme, host, port, request_context)
        pool.ConnectionCls = self._CONNECTIONS[scheme]
        pool.conn_kw["address_policy"] = self.address_policy
        return pool


class GuardedAdapter(HTTPAdapter):
    """requests' adapter for the check: guarded connections, never an environment proxy."""

    def __init__(self, address_policy: AddressPolicy) -> None:
        self.address_policy = address_policy
        super().__init__()

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs) -> None:
        self.poolmanager = _GuardedPoolManager(
            self.address_policy, num_pools=connections, maxsize=maxsize, block=block, **pool_kwargs
        )

    def send(self, request, **kwargs):
        kwargs["proxies"] = {}
        return super().send(request, **kwargs)
