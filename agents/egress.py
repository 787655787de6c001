"""The one guard every outbound call made on someone's behalf goes through.

HTTP tools, endpoint connection tests and model calls all leave the platform through this module;
no other module opens network connections (a test proves it).

Deny by default. Platform admins list what may be reached (``AllowedHost``): a host name
(``api.example.gov.cn``), subdomains (``*.example.gov.cn``), an address (``10.20.0.8``) or an
address range (``10.20.0.0/16``, IPv6 too). For purpose ``"model"``, the hosts of model endpoints
registered platform-wide (no department; only platform admins can do that) count as listed by exact
name; an endpoint a department registered itself passes the list like any other destination.

What is checked is the address the connection goes to, after resolving the name:

- every address the name resolves to must be allowed;
- loopback, link-local, unspecified, multicast, reserved and cloud-metadata addresses only when a
  listed address or range contains them (a metadata address only when listed itself): a listed
  *name* is not enough, since whoever runs its DNS can point it anywhere (DNS rebinding);
- private (intranet) addresses when a listed range contains them or the exact name was listed
  (a wildcard is not enough);
- public addresses when the name is listed (exact or wildcard) or a listed range contains them.

Numeric host spellings (``2130706433``, ``0x7f.1``, ``127.1``) are read as the address they mean, and
IPv4-mapped (``::ffff:127.0.0.1``) or NAT64 IPv6 addresses as their IPv4 address. Only http and https
leave the platform; the host is taken from the URL the way the HTTP client reads it, so userinfo
tricks (``http://allowed@evil/``) are judged by the real host.

Clients from ``http_client``/``async_http_client`` check every request when it is sent and connect
through a guarded network backend that resolves, checks and then connects to the checked address
(TLS server name and the Host header keep the name). So the check runs at call time, for every
retry and every redirect, with the allow-list as it is at that moment. Proxies and ``.netrc`` from
the environment are ignored (a proxy would take the connection elsewhere); ``SSL_CERT_FILE`` is
honoured so an intranet's own certificate authority can be trusted.

Redirects: the clients do not follow them (model APIs do not redirect; openai sees the 3xx as an
error). ``http_fetch`` follows at most three, each one checked again like the first request, and
sends the caller's headers (a tool's secret) only to the origin they were meant for.
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import os
import re
import socket
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import anyio
import httpcore2
import httpx2
import idna
from django.utils.translation import gettext as _

from .blocking import run_blocking

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

PURPOSES = ("tool", "model")
MAX_REDIRECTS = 3

# Cloud instance-metadata services hand out credentials; most live in link-local space (refused anyway),
# these do not.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, Azure, GCP, OpenStack, Huawei Cloud, Baidu Cloud
        "169.254.170.2",  # AWS container credentials
        "169.254.0.23",  # Tencent Cloud
        "fd00:ec2::254",  # AWS over IPv6 (inside fc00::/7)
        "100.100.100.200",  # Alibaba Cloud (inside the shared 100.64.0.0/10 range)
        "192.0.0.192",  # Oracle Cloud
    )
)
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")  # Linux sends 0.0.0.0 to the local host
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_BROADEST_PREFIX = {4: 8, 6: 32}


class EgressError(Exception):
    """An outbound call did not happen or did not finish; the message is for the person (Chinese first)."""


class EgressDenied(EgressError):
    """An outbound call to a destination the platform does not allow."""


class EgressTooLarge(EgressError):
    """The response was larger than the caller's cap; reading stopped."""


class EgressTimeout(EgressError):
    """The call did not finish within its time cap."""


class EgressFailed(EgressError):
    """The destination was allowed but could not be reached or answered unreadably."""


# ---------------------------------------------------------------------------------------------------
# Allow-list patterns


class AllowedPattern(NamedTuple):
    text: str  # the normalised pattern as it should be stored
    kind: str  # "name", "wildcard" or "network"
    value: Any  # the host name, the ".suffix" of a wildcard, or an ip_network


def pattern_parse(pattern: str) -> AllowedPattern:
    """Read an allow-list entry; raise ``ValueError`` with a message for the platform admin if it is not one."""
    text = (pattern or "").strip().lower().rstrip(".")
    if not text:
        raise ValueError(_("请填写主机名、IP 地址或地址段。"))
    example = _("例如 api.example.gov.cn、*.gov.cn、10.20.0.8 或 10.20.0.0/16")
    if "://" in text or "@" in text or " " in text:
        raise ValueError(
            _("只填写主机名、IP 地址或地址段（%(example)s），不要包含 http://、端口或路径。") % {"example": example}
        )
    if "/" in text or ":" in text or _is_numeric_host(text):
        return _network_pattern(text, example)
    if text.startswith("*."):
        suffix = _host_name(text[2:], example)
        if _is_numeric_host(suffix):
            raise ValueError(_("通配符只用于主机名；地址请写成地址段，例如 10.20.0.0/16。"))
        return AllowedPattern(f"*.{suffix}", "wildcard", f".{suffix}")
    if "*" in text:
        raise ValueError(_("通配符只能写在最前面，例如 *.gov.cn。"))
    return AllowedPattern(_host_name(text, example), "name", _host_name(text, example))


def _host_name(text: str, example: str) -> str:
    try:
        # Encoded the way the HTTP client encodes the host it connects to.
        ascii_name = idna.encode(text).decode("ascii") if not text.isascii() else text
    except (idna.IDNAError, UnicodeError):
        ascii_name = ""
    labels = ascii_name.split(".")
    if not ascii_name or len(ascii_name) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise ValueError(_("“%(value)s”不是有效的主机名（%(example)s）。") % {"value": text, "example": example})
    return ascii_name


def _network_pattern(text: str, example: str) -> AllowedPattern:
    address_text, _slash, prefix = text.partition("/")
    try:
        address = _literal_address(address_text)
    except EgressDenied:
        address = None
    if address is None:
        raise ValueError(
            _("“%(value)s”不是有效的 IP 地址或地址段（%(example)s），不要包含端口或路径。")
            % {"value": text, "example": example}
        )
    if isinstance(address, ipaddress.IPv6Address) and _plain(address) != address:
        raise ValueError(_("请直接填写 IPv4 地址 %(address)s。") % {"address": _plain(address)})
    if str(address) != address_text.strip("[]"):
        raise ValueError(_("请把 %(value)s 写成标准形式 %(address)s。") % {"value": address_text, "address": address})
    if not prefix:
        return AllowedPattern(str(address), "network", ipaddress.ip_network(address))
    try:
        network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    except ValueError:
        raise ValueError(
            _("“%(value)s”不是有效的地址段（%(example)s）。") % {"value": text, "example": example}
        ) from None
    if network.network_address != address:
        raise ValueError(
            _("地址段 %(value)s 的主机位不为零，是不是想填 %(network)s？") % {"value": text, "network": network}
        )
    if network.prefixlen < _BROADEST_PREFIX[network.version]:
        raise ValueError(
            _("地址段 %(value)s 太大（IPv4 至少 /8，IPv6 至少 /32），请只列出需要访问的网段。") % {"value": text}
        )
    return AllowedPattern(str(network), "network", network)


def host_matches(host: str, pattern: str) -> bool:
    """Whether a host name matches a name pattern (``*.x`` matches subdomains of x, not x itself)."""
    host, pattern = host.lower().rstrip("."), pattern.lower().strip().rstrip(".")
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and host != pattern[2:]
    return host == pattern


# ---------------------------------------------------------------------------------------------------
# Addresses


def _is_numeric_host(text: str) -> bool:
    labels = text.split(".")
    return 1 <= len(labels) <= 4 and all(_NUMERIC_LABEL.match(label) for label in labels)


def _literal_address(host: str) -> IPAddress | None:
    """The address a host spells, however it is spelled (``127.1``, ``0x7f.1``, ``2130706433``), or None for a name."""
    host = host.strip().strip("[]")
    try:
        return ipaddress.ip_address(host.replace("%25", "%"))
    except ValueError:
        pass
    if _is_numeric_host(host.lower()):
        try:
            # inet_aton reads the legacy forms exactly as the resolver would.
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            raise EgressDenied(_("“%(host)s”不是有效的地址。") % {"host": host}) from None
    return None


def _plain(address: IPAddress) -> IPAddress:
    """IPv6 forms that carry an IPv4 address reach that address: judge them as it."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def _address_kind(address: IPAddress) -> str:
    """``"protected"``, ``"private"`` or ``"public"``."""
    if (
        address in METADATA_ADDRESSES
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
        or (address.version == 4 and address in _THIS_NETWORK)
    ):
        return "protected"
    return "public" if address.is_global else "private"


def _canonical_host(raw_host: str) -> str:
    """The name a host is judged by: an address in standard form, or the lower-case name without a final dot."""
    address = _literal_address(raw_host)
    if address is not None:
        return str(_plain(address))
    return raw_host.strip("[]").lower().rstrip(".")


# ---------------------------------------------------------------------------------------------------
# The policy: what platform admins allowed, read when a call is made


@dataclass(frozen=True)
class _Policy:
    names: frozenset[str]
    suffixes: tuple[str, ...]
    networks: tuple[IPNetwork, ...]

    def name_listed(self, host: str) -> bool:
        return host in self.names

    def name_matches(self, host: str) -> bool:
        return host in self.names or (_literal_address(host) is None and any(host.endswith(s) for s in self.suffixes))

    def network_lists(self, address: IPAddress) -> bool:
        # A metadata address hands out the platform's cloud credentials: only listing that very address
        # opens it, not a range an intranet happens to share with it (Alibaba Cloud's sits in 100.64.0.0/10).
        if address in METADATA_ADDRESSES:
            return any(n.num_addresses == 1 and n.network_address == address for n in self.networks)
        return any(address.version == n.version and address in n for n in self.networks)


# Policies already read in this context, by (purpose, whether platform-wide endpoints count), while
# ``policy_read_once`` is in force; None outside it (every check reads the allow-list afresh).
_policy_memo: contextvars.ContextVar[dict[tuple[str, bool], _Policy] | None] = contextvars.ContextVar(
    "egress_policy_memo", default=None
)


@contextlib.contextmanager
def policy_read_once() -> Iterator[None]:
    """Within this context (and the tasks and threads it hands work to), the allow-list is read from
    the database once per purpose and kept: every later check of the context uses that reading.

    For one run, whose model calls and tools would otherwise read it before every request: a change
    an admin makes to the list takes effect from the next run. Outside such a context every check
    reads the list as it is at that moment.
    """
    token = _policy_memo.set({})
    try:
        yield
    finally:
        _policy_memo.reset(token)


def _policy_key(purpose: str, endpoint) -> tuple[str, bool]:
    return purpose, purpose == "model" and (endpoint is None or endpoint.department_id is None)


def _policy_memoised(*, purpose: str, endpoint=None) -> _Policy | None:
    memo = _policy_memo.get()
    return None if memo is None else memo.get(_policy_key(purpose, endpoint))


def _policy_load(*, purpose: str, endpoint=None) -> _Policy:
    """The allow-list for ``purpose`` (and ``endpoint``): memoised under ``policy_read_once``, else read now."""
    memo = _policy_memo.get()
    if memo is None:
        return _policy_read(purpose=purpose, endpoint=endpoint)
    key = _policy_key(purpose, endpoint)
    policy = memo.get(key)
    if policy is None:
        # The dict is shared with the context's copies (threads of run_blocking), so one read serves all.
        policy = memo[key] = _policy_read(purpose=purpose, endpoint=endpoint)
    return policy


def _policy_read(*, purpose: str, endpoint=None) -> _Policy:
    from .models import AllowedHost, ModelEndpoint

    if purpose not in PURPOSES:
        raise ValueError(f"unknown egress purpose {purpose!r}")
    names: set[str] = set()
    suffixes: list[str] = []
    networks: list[IPNetwork] = []
    for pattern in AllowedHost.objects.values_list("pattern", flat=True):
        try:
            parsed = pattern_parse(pattern)
        except (ValueError, EgressDenied):
            continue  # an unreadable entry allows nothing
        if parsed.kind == "name":
            names.add(parsed.value)
        elif parsed.kind == "wildcard":
            suffixes.append(parsed.value)
        else:
            networks.append(parsed.value)
    if purpose == "model" and (endpoint is None or endpoint.department_id is None):
        for base_url in ModelEndpoint.objects.filter(department__isnull=True).values_list("base_url", flat=True):
            try:
                names.add(_target(base_url)[0])
            except EgressDenied:
                continue
    return _Policy(frozenset(names), tuple(suffixes), tuple(networks))


def _not_listed(host: str) -> EgressDenied:
    return EgressDenied(_("主机 %(host)s 不在出网白名单中，请联系平台管理员添加。") % {"host": host})


def _name_could_pass(host: str, policy: _Policy) -> bool:
    """Whether resolving is worth it: a name nothing lists can only pass through a listed range."""
    return _literal_address(host) is not None or policy.name_matches(host) or bool(policy.networks)


def _judge(host: str, addresses: Iterable[IPAddress], policy: _Policy) -> list[str]:
    """The addresses to connect to, all of them allowed; raise ``EgressDenied`` if any one is not."""
    allowed: list[str] = []
    for resolved in addresses:
        address = _plain(resolved)
        kind = _address_kind(address)
        if not policy.network_lists(address):
            if kind == "protected":
                raise EgressDenied(
                    _(
                        "%(host)s 指向受保护的地址 %(address)s（本机、链路本地或云平台元数据等），"
                        "只有平台管理员在出网白名单中明确列出该地址或地址段后才能访问。"
                    )
                    % {"host": host, "address": address}
                )
            if kind == "private" and not policy.name_listed(host):
                if policy.name_matches(host):
                    raise EgressDenied(
                        _(
                            "%(host)s 指向内网地址 %(address)s；内网地址需要平台管理员在出网白名单中"
                            "列出该主机名本身（通配符不够）或所在地址段。"
                        )
                        % {"host": host, "address": address}
                    )
                raise _not_listed(host)
            if kind == "public" and not policy.name_matches(host):
                raise _not_listed(host)
        # An IPv4-mapped address is the IPv4 address; NAT64 and 6to4 ones are reached as themselves.
        mapped = isinstance(resolved, ipaddress.IPv6Address) and resolved.ipv4_mapped is not None
        text = str(address) if mapped else str(resolved)
        if text not in allowed:
            allowed.append(text)
    if not allowed:
        raise _not_listed(host)
    return allowed


class _Unresolvable(Exception):
    pass


def _addresses_from(infos) -> list[IPAddress]:
    return [ipaddress.ip_address(str(info[4][0])) for info in infos]


def _resolve(host: str, port: int) -> list[IPAddress]:
    literal = _literal_address(host)
    if literal is not None:
        return [literal]
    try:
        return _addresses_from(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
    except (OSError, UnicodeError) as exc:
        raise _Unresolvable(host) from exc


async def _aresolve(host: str, port: int) -> list[IPAddress]:
    literal = _literal_address(host)
    if literal is not None:
        return [literal]
    try:
        return _addresses_from(await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM))
    except (OSError, UnicodeError) as exc:
        raise _Unresolvable(host) from exc


def _target(url: str) -> tuple[str, int]:
    """The (judged host, port) a URL leads to, read the way the HTTP client reads it."""
    try:
        parsed = httpx2.URL(url)
    except (httpx2.InvalidURL, TypeError, ValueError):
        raise EgressDenied(_("地址格式无效：%(url)s") % {"url": url}) from None
    if parsed.scheme not in ("http", "https") or not parsed.raw_host:
        raise EgressDenied(_("只允许访问 http 或 https 地址。"))
    host = _canonical_host(parsed.raw_host.decode("ascii"))
    return host, parsed.port or (443 if parsed.scheme == "https" else 80)


def check_url(url: str, *, purpose: str = "tool", endpoint=None) -> str:
    """Return the host of ``url`` if the platform allows calling it for ``purpose`` now; else raise ``EgressDenied``.

    ``endpoint`` is the ``ModelEndpoint`` a model call is for: a platform-wide one makes its host
    count as listed; a department's own one does not. A name is resolved and every address judged;
    a name that does not resolve now is judged by name alone (the connection is checked again when
    it is made, and fails if the name still does not resolve).
    """
    host, port = _target(url)
    policy = _policy_load(purpose=purpose, endpoint=endpoint)
    if not _name_could_pass(host, policy):
        raise _not_listed(host)
    try:
        addresses = _resolve(host, port)
    except _Unresolvable:
        if policy.name_matches(host):
            return host
        raise _not_listed(host) from None
    _judge(host, addresses, policy)
    return host


# ---------------------------------------------------------------------------------------------------
# The guarded network backend: connections go only to checked addresses


class _Guard:
    """What one client may reach: the purpose, the endpoint, and optionally a deadline for everything."""

    def __init__(self, *, purpose: str, endpoint=None, deadline: float | None = None) -> None:
        if purpose not in PURPOSES:
            raise ValueError(f"unknown egress purpose {purpose!r}")
        self.purpose, self.endpoint, self.deadline = purpose, endpoint, deadline

    def addresses(self, raw_host: str, port: int) -> list[str]:
        host = _canonical_host(raw_host)
        policy = _policy_load(purpose=self.purpose, endpoint=self.endpoint)
        if not _name_could_pass(host, policy):
            raise _not_listed(host)
        try:
            resolved = _resolve(host, port)
        except _Unresolvable:
            raise httpcore2.ConnectError(f"cannot resolve {host}") from None
        return _judge(host, resolved, policy)

    async def aaddresses(self, raw_host: str, port: int) -> list[str]:
        host = _canonical_host(raw_host)
        # The allow-list is a database read: a blocking step (see ``agents.blocking``), unless this run
        # has read it already (``policy_read_once``), when the thread hop would cost more than the check.
        policy = _policy_memoised(purpose=self.purpose, endpoint=self.endpoint)
        if policy is None:
            policy = await run_blocking(_policy_load, purpose=self.purpose, endpoint=self.endpoint)
        if not _name_could_pass(host, policy):
            raise _not_listed(host)
        try:
            resolved = await _aresolve(host, port)
        except _Unresolvable:
            raise httpcore2.ConnectError(f"cannot resolve {host}") from None
        return _judge(host, resolved, policy)

    def remaining(self, timeout: float | None, error: type[Exception]) -> float | None:
        if self.deadline is None:
            return timeout
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise error("deadline reached")
        return left if timeout is None else min(timeout, left)


# The transport checks each request and leaves the addresses it approved here, so the backend connecting
# for that request uses them instead of resolving a second time (and perhaps getting another answer).
_approved: contextvars.ContextVar[tuple[str, int, list[str]] | None] = contextvars.ContextVar(
    "egress_approved", default=None
)


def _approved_for(host: str, port: int) -> list[str] | None:
    approved = _approved.get()
    if approved is not None and approved[0] == host and approved[1] == port:
        return approved[2]
    return None


def _request_target(url: httpx2.URL) -> tuple[str, int]:
    return url.raw_host.decode("ascii"), url.port or (443 if url.scheme == "https" else 80)


class _DeadlineStream(httpcore2.NetworkStream):
    """A connection whose reads and writes stop at the guard's deadline, however slowly the peer trickles."""

    def __init__(self, stream: httpcore2.NetworkStream, guard: _Guard) -> None:
        self._stream, self._guard = stream, guard

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._guard.remaining(timeout, httpcore2.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._guard.remaining(timeout, httpcore2.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname: str | None = None, timeout: float | None = None):
        timeout = self._guard.remaining(timeout, httpcore2.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, timeout), self._guard)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _AsyncDeadlineStream(httpcore2.AsyncNetworkStream):
    def __init__(self, stream: httpcore2.AsyncNetworkStream, guard: _Guard) -> None:
        self._stream, self._guard = stream, guard

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max_bytes, self._guard.remaining(timeout, httpcore2.ReadTimeout))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, self._guard.remaining(timeout, httpcore2.WriteTimeout))

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(self, ssl_context, server_hostname: str | None = None, timeout: float | None = None):
        timeout = self._guard.remaining(timeout, httpcore2.ConnectTimeout)
        return _AsyncDeadlineStream(await self._stream.start_tls(ssl_context, server_hostname, timeout), self._guard)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


def _unix_socket_refused(*args, **kwargs):
    raise EgressDenied(_("不允许通过本机套接字出网。"))


class GuardedBackend(httpcore2.NetworkBackend):
    """An httpcore2 network backend that connects only to addresses the guard approved for the host asked for."""

    def __init__(self, guard: _Guard) -> None:
        self._guard = guard
        self._inner = httpcore2.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable | None = None,
    ) -> httpcore2.NetworkStream:
        addresses = _approved_for(host, port) or self._guard.addresses(host, port)
        failure: Exception | None = None
        for address in addresses:
            try:
                stream = self._inner.connect_tcp(
                    address,
                    port,
                    timeout=self._guard.remaining(timeout, httpcore2.ConnectTimeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                failure = exc
                continue
            return _DeadlineStream(stream, self._guard) if self._guard.deadline is not None else stream
        assert failure is not None
        raise failure

    connect_unix_socket = _unix_socket_refused

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class AsyncGuardedBackend(httpcore2.AsyncNetworkBackend):
    """The asynchronous twin of ``GuardedBackend``."""

    def __init__(self, guard: _Guard) -> None:
        self._guard = guard
        self._inner = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        addresses = _approved_for(host, port) or await self._guard.aaddresses(host, port)
        failure: Exception | None = None
        for address in addresses:
            try:
                stream = await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=self._guard.remaining(timeout, httpcore2.ConnectTimeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                failure = exc
                continue
            return _AsyncDeadlineStream(stream, self._guard) if self._guard.deadline is not None else stream
        assert failure is not None
        raise failure

    async def connect_unix_socket(self, *args, **kwargs):
        _unix_socket_refused()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


_LIMITS = httpx2.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)


# Loading the certificate store costs ~30 ms of CPU; one context per CA setting serves every client
# (an SSLContext is safe to share between threads).
_ssl_contexts: dict[tuple[str | None, str | None], object] = {}


def _ssl_context():
    # SSL_CERT_FILE / SSL_CERT_DIR are honoured: an intranet's own certificate authority.
    key = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    context = _ssl_contexts.get(key)
    if context is None:
        context = _ssl_contexts[key] = httpx2.create_ssl_context(trust_env=True)
    return context


def _pool_options() -> dict:
    return {
        "ssl_context": _ssl_context(),
        "max_connections": _LIMITS.max_connections,
        "max_keepalive_connections": _LIMITS.max_keepalive_connections,
        "keepalive_expiry": _LIMITS.keepalive_expiry,
    }


class GuardedTransport(httpx2.HTTPTransport):
    """httpx2's transport with the guard: each request is checked when sent; connections use ``GuardedBackend``."""

    def __init__(self, guard: _Guard) -> None:
        options = _pool_options()
        super().__init__(verify=options["ssl_context"], trust_env=False, limits=_LIMITS)
        self._guard = guard
        self._pool = httpcore2.ConnectionPool(network_backend=GuardedBackend(guard), **options)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        host, port = _request_target(request.url)
        try:
            addresses = self._guard.addresses(host, port)
        except httpcore2.ConnectError as exc:
            raise httpx2.ConnectError(str(exc), request=request) from None
        token = _approved.set((host, port, addresses))
        try:
            return super().handle_request(request)
        finally:
            _approved.reset(token)


class AsyncGuardedTransport(httpx2.AsyncHTTPTransport):
    """The asynchronous twin of ``GuardedTransport``."""

    def __init__(self, guard: _Guard) -> None:
        options = _pool_options()
        super().__init__(verify=options["ssl_context"], trust_env=False, limits=_LIMITS)
        self._guard = guard
        self._pool = httpcore2.AsyncConnectionPool(network_backend=AsyncGuardedBackend(guard), **options)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        host, port = _request_target(request.url)
        try:
            addresses = await self._guard.aaddresses(host, port)
        except httpcore2.ConnectError as exc:
            raise httpx2.ConnectError(str(exc), request=request) from None
        token = _approved.set((host, port, addresses))
        try:
            return await super().handle_async_request(request)
        finally:
            _approved.reset(token)


def http_client(*, purpose: str, endpoint=None, timeout: float = 60.0) -> httpx2.Client:
    """An HTTP client for outbound calls made on someone's behalf (``purpose`` "model" or "tool").

    Contract: every request is checked by this guard when it is sent, and every connection the
    client opens goes to an address the guard approved at that moment; redirects are not followed
    (a caller that asks for them per request gets at most three, each checked the same way);
    proxies from the environment are ignored. A refused destination raises ``EgressDenied`` from
    the call (openai lets it through unwrapped and does not retry it).
    """
    return httpx2.Client(
        transport=GuardedTransport(_Guard(purpose=purpose, endpoint=endpoint)),
        timeout=timeout,
        follow_redirects=False,
        max_redirects=MAX_REDIRECTS,
        trust_env=False,
    )


def async_http_client(*, purpose: str, endpoint=None, timeout: float = 60.0) -> httpx2.AsyncClient:
    """The asynchronous twin of ``http_client``, same contract."""
    return httpx2.AsyncClient(
        transport=AsyncGuardedTransport(_Guard(purpose=purpose, endpoint=endpoint)),
        timeout=timeout,
        follow_redirects=False,
        max_redirects=MAX_REDIRECTS,
        trust_env=False,
    )


# ---------------------------------------------------------------------------------------------------
# One capped request


@dataclass
class FetchResult:
    status: int
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    content: bytes
    elapsed: float  # seconds, redirects included
    url: str  # the URL that answered (after redirects)
    address: str  # the address the answer came from


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:g} MB" if n >= 1024 * 1024 else f"{n / 1024:g} KB" if n >= 1024 else f"{n} B"


def _origin(url: httpx2.URL) -> tuple[str, bytes, int | None]:
    return url.scheme, url.raw_host, url.port


def _redirect_method(status: int, method: str) -> str:
    if status == 303 and method != "HEAD":
        return "GET"
    if status in (301, 302) and method == "POST":
        return "GET"
    return method


def http_fetch(
    *,
    method: str,
    url: str,
    headers: dict[str, str] | None = None,
    params: dict | None = None,
    json_body: Any = None,
    timeout: float,
    max_bytes: int,
    purpose: str = "tool",
    endpoint=None,
) -> FetchResult:
    """Make one request through the guard and read the whole answer, within ``timeout`` seconds in total.

    Follows at most three redirects, each checked again; the caller's ``headers`` go only to the
    original origin. The body is streamed and reading stops once it passes ``max_bytes``. Raises
    ``EgressDenied`` (destination not allowed), ``EgressTooLarge``, ``EgressTimeout`` or
    ``EgressFailed`` (connection or protocol failure), all ``EgressError`` with a Chinese message.
    HTTP error statuses are results, not exceptions.
    """
    started = time.monotonic()
    guard = _Guard(purpose=purpose, endpoint=endpoint, deadline=started + timeout)
    host = _target(url)[0]
    # Compressed answers would make the byte cap meaningless; ask for them plain.
    base_headers = {"Accept-Encoding": "identity"}
    with httpx2.Client(
        transport=GuardedTransport(guard), timeout=timeout, follow_redirects=False, trust_env=False
    ) as client:
        try:
            # Merged into the URL's own query (httpx2's params= would replace it).
            full_url = httpx2.URL(url).copy_merge_params(params) if params else httpx2.URL(url)
            request = client.build_request(
                method.upper(), full_url, headers={**(headers or {}), **base_headers}, json=json_body
            )
        except (httpx2.InvalidURL, ValueError, TypeError):
            raise EgressDenied(_("地址格式无效：%(url)s") % {"url": url}) from None
        origin = _origin(request.url)
        try:
            for hop in range(MAX_REDIRECTS + 1):
                host = _canonical_host(request.url.raw_host.decode("ascii"))
                response = client.send(request, stream=True)
                try:
                    if not response.has_redirect_location:
                        peer = _peer_address(response)  # before reading: the server may close when done
                        content = _read_capped(response, max_bytes=max_bytes, guard=guard)
                        return FetchResult(
                            status=response.status_code,
                            headers=dict(response.headers.items()),
                            content=content,
                            elapsed=time.monotonic() - started,
                            url=str(response.url),
                            address=peer,
                        )
                    if hop == MAX_REDIRECTS:
                        raise EgressFailed(_("重定向超过 %(n)s 次，已停止。") % {"n": MAX_REDIRECTS})
                    next_url = request.url.join(response.headers["Location"])
                    _target(str(next_url))  # scheme and form here; the address is checked when it is requested
                    next_method = _redirect_method(response.status_code, request.method)
                    request = client.build_request(
                        next_method,
                        next_url,
                        headers={**(headers or {}), **base_headers} if _origin(next_url) == origin else base_headers,
                        json=json_body if next_method == request.method else None,
                    )
                finally:
                    response.close()
        except httpx2.TimeoutException:
            raise EgressTimeout(_("%(s)s 秒内没有完成，已中止。") % {"s": f"{timeout:g}"}) from None
        except httpx2.TransportError as exc:
            raise EgressFailed(
                _("无法连接到 %(host)s（%(reason)s）。") % {"host": host, "reason": type(exc).__name__}
            ) from None
    raise AssertionError("unreachable")  # pragma: no cover


def _peer_address(response: httpx2.Response) -> str:
    stream = response.extensions.get("network_stream")
    try:
        peer = stream.get_extra_info("server_addr") if stream is not None else None
    except OSError:
        peer = None
    return str(peer[0]) if peer else ""


def _read_capped(response: httpx2.Response, *, max_bytes: int, guard: _Guard) -> bytes:
    declared = response.headers.get("Content-Length", "")
    too_large = EgressTooLarge(_("响应超过 %(limit)s 的上限，已停止读取。") % {"limit": _size(max_bytes)})
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise too_large
        guard.remaining(None, httpx2.ReadTimeout)
    return bytes(body)
