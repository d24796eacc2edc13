"""The SNMP client: GET, multi-column GETBULK walks and SET over v2c or v3 authPriv.

The only module that imports pysnmp (7.x, asyncio). It speaks numeric OIDs only and never
loads a MIB, and answers come back as plain Python values:

- INTEGER, Counter32/64, Gauge32, TimeTicks → ``int``
- OCTET STRING, Opaque, BITS → ``bytes``
- OBJECT IDENTIFIER → ``str`` (dotted)
- IpAddress → ``str`` (dotted quad)
- noSuchObject, noSuchInstance → ``None``

Two paths behind the same methods:

- **v2c**: messages encoded and decoded by :mod:`controller.discovery.ber` over one UDP socket
  per round (:class:`_V2cSocket`). pysnmp spends about 0.1 ms of CPU decoding each value through
  pyasn1's schemas; a district's switches are polled in v2c, and this path is several times
  cheaper for the same bytes on the wire.
- **v3** (USM authentication and privacy): pysnmp's command generators with raw variable
  bindings (the high-level ``get_cmd``/``bulk_cmd`` resolve every OID through a MIB view, slower
  for nothing here), one SNMP engine per credential (making an engine is expensive; one per
  credential rather than one for all, because an engine keeps one set of keys per user name).

One :class:`Client` serves a round. Every failure is a :class:`SnmpError`: :class:`SnmpTimeout`
when nothing answers within ``timeout_s × (retries + 1)``, :class:`SnmpAuthError` when a v3
agent refuses the credentials.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from pysnmp.entity.engine import SnmpEngine
from pysnmp.entity.rfc3413 import cmdgen
from pysnmp.error import PySnmpError
from pysnmp.hlapi.v3arch.asyncio import (
    USM_AUTH_HMAC96_MD5,
    USM_AUTH_HMAC96_SHA,
    USM_AUTH_HMAC128_SHA224,
    USM_AUTH_HMAC192_SHA256,
    USM_AUTH_HMAC256_SHA384,
    USM_AUTH_HMAC384_SHA512,
    USM_PRIV_CBC56_DES,
    USM_PRIV_CFB128_AES,
    USM_PRIV_CFB192_AES,
    USM_PRIV_CFB192_AES_BLUMENTHAL,
    USM_PRIV_CFB256_AES,
    USM_PRIV_CFB256_AES_BLUMENTHAL,
    CommunityData,
    Udp6TransportTarget,
    UdpTransportTarget,
    UsmUserData,
)
from pysnmp.hlapi.v3arch.asyncio.lcd import CommandGeneratorLcdConfigurator
from pysnmp.proto import errind, rfc1902, rfc1905

from controller.discovery import ber
from controller.discovery.credentials import Credential

__all__ = [
    "Client",
    "Oid",
    "SnmpAuthError",
    "SnmpError",
    "SnmpTimeout",
    "Target",
    "Value",
    "format_oid",
    "parse_oid",
    "set_admin_status",
]

log = logging.getLogger(__name__)

#: A numeric OID as a tuple of sub-identifiers.
Oid = tuple[int, ...]
#: A decoded SNMP value (see the module's docstring).
Value = ber.Value

_IF_ADMIN_STATUS = (1, 3, 6, 1, 2, 1, 2, 2, 1, 7)

_AUTH = {
    "MD5": USM_AUTH_HMAC96_MD5,
    "SHA": USM_AUTH_HMAC96_SHA,
    "SHA224": USM_AUTH_HMAC128_SHA224,
    "SHA256": USM_AUTH_HMAC192_SHA256,
    "SHA384": USM_AUTH_HMAC256_SHA384,
    "SHA512": USM_AUTH_HMAC384_SHA512,
}
# net-snmp's AES192/AES256 follow draft-blumenthal-aes-usm-04; Cisco's extend the key the
# Reeder way (pysnmp calls those plain CFB192/CFB256): credentials.PRIV_PROTOCOLS says which.
_PRIV = {
    "AES": USM_PRIV_CFB128_AES,
    "AES192": USM_PRIV_CFB192_AES_BLUMENTHAL,
    "AES256": USM_PRIV_CFB256_AES_BLUMENTHAL,
    "AES192C": USM_PRIV_CFB192_AES,
    "AES256C": USM_PRIV_CFB256_AES,
    "DES": USM_PRIV_CBC56_DES,
}

# RFC 3414 section 3.2: the usmStats reports an agent sends back for bad v3 credentials.
_AUTH_ERRORS: dict[type[errind.ErrorIndication], str] = {
    errind.UnknownUserName: "the agent does not know SNMPv3 user {user!r} "
    "(usmStatsUnknownUserNames)",
    errind.WrongDigest: "wrong SNMPv3 auth key or protocol for user {user!r} "
    "(usmStatsWrongDigests)",
    errind.AuthenticationFailure: "wrong SNMPv3 auth key or protocol for user {user!r}",
    errind.AuthenticationError: "wrong SNMPv3 auth key or protocol for user {user!r}",
    errind.DecryptionError: "wrong SNMPv3 priv key or protocol for user {user!r} "
    "(usmStatsDecryptionErrors)",
    errind.UnsupportedSecurityLevel: "the agent refuses authPriv for SNMPv3 user {user!r} "
    "(usmStatsUnsupportedSecLevels)",
    errind.UnknownSecurityName: "the agent does not know SNMPv3 user {user!r}",
}
# SNMPv2 error-status names (RFC 3416 section 3), for a refused request's message.
_ERROR_STATUS = [
    "noError",
    "tooBig",
    "noSuchName",
    "badValue",
    "readOnly",
    "genErr",
    "noAccess",
    "wrongType",
    "wrongLength",
    "wrongEncoding",
    "wrongValue",
    "noCreation",
    "inconsistentValue",
    "resourceUnavailable",
    "commitFailed",
    "undoFailed",
    "authorizationError",
    "notWritable",
    "inconsistentName",
]
_TOO_BIG = 1
#: Rows asked in a walk's first request when the table's size is unknown.
PROBE_ROWS = 10


class SnmpError(Exception):
    """An SNMP request failed; the message is one line fit for an operator."""


class SnmpTimeout(SnmpError):  # noqa: N818 - the contract's name
    """Nothing answered within the timeout and retries (dead device, firewall, or a wrong v2c
    community: an agent drops a request with an unknown community without a word)."""


class SnmpAuthError(SnmpError):
    """The agent refused the SNMPv3 credentials (unknown user, wrong key or protocol)."""


@dataclass(frozen=True)
class Target:
    """One device to ask: its id in the organisation file, its address and its credential."""

    device_id: str
    host: str
    port: int
    credential: Credential


def parse_oid(text: str) -> Oid:
    """``"1.3.6.1.2.1.1.1.0"`` (a leading dot allowed) as a tuple; ValueError when malformed."""
    parts = text.strip().lstrip(".").split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"not a numeric OID: {text!r}")
    return tuple(int(p) for p in parts)


def format_oid(oid: Oid) -> str:
    """The dotted form of ``oid``."""
    return ".".join(map(str, oid))


def _ip_address(value: Any) -> str:
    return socket.inet_ntoa(value.asOctets())


def _oid_value(value: Any) -> str:
    return format_oid(tuple(value))


def _octets(value: Any) -> bytes:
    return bytes(value.asOctets())


def _none(value: Any) -> None:
    return None


# Decoders by the value's exact class: one dict look-up per value on the hot path.
_DECODERS: dict[type, Callable[[Any], Value]] = {
    rfc1902.Integer32: int,
    rfc1902.Integer: int,
    rfc1902.Counter32: int,
    rfc1902.Counter64: int,
    rfc1902.Gauge32: int,
    rfc1902.Unsigned32: int,
    rfc1902.TimeTicks: int,
    rfc1902.OctetString: _octets,
    rfc1902.Opaque: _octets,
    rfc1902.Bits: _octets,
    rfc1902.ObjectIdentifier: _oid_value,
    rfc1902.IpAddress: _ip_address,
    rfc1905.NoSuchObject: _none,
    rfc1905.NoSuchInstance: _none,
    rfc1902.Null: _none,
}


def decode(value: Any) -> Value:
    """A pysnmp value as a plain Python value (module docstring)."""
    decoder = _DECODERS.get(type(value))
    if decoder is not None:
        return decoder(value)
    for cls, fallback in _DECODERS.items():  # a subclass pysnmp or pyasn1 made on the way
        if isinstance(value, cls):
            return fallback(value)
    return str(value)


class Client:
    """SNMP requests for one round (``async with Client(...) as client``).

    ``timeout_s`` and ``retries`` apply to each request; ``max_repetitions`` is GETBULK's rows
    per request. Engines are made on first use of a credential and closed on exit.
    """

    def __init__(self, *, timeout_s: float, retries: int, max_repetitions: int = 32) -> None:
        self.timeout_s = timeout_s
        self.retries = retries
        self.max_repetitions = max_repetitions
        self._engines: dict[Credential, tuple[SnmpEngine, CommunityData | UsmUserData]] = {}
        self._transports: dict[tuple[str, int], Any] = {}
        self._lcd = CommandGeneratorLcdConfigurator()
        self._v2c: _V2cSocket | None = None
        #: Variable bindings received so far, in all and per device id.
        self.values = 0
        self.received: dict[str, int] = {}

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close every engine's sockets."""
        for engine, _ in self._engines.values():
            try:
                engine.close_dispatcher()
            except Exception:  # closing is best effort: the round's results are already in
                log.debug("closing an SNMP engine failed", exc_info=True)
        self._engines.clear()
        self._transports.clear()
        if self._v2c is not None:
            self._v2c.close()
            self._v2c = None

    # -- the requests ----------------------------------------------------------------------

    async def get(self, target: Target, oids: Sequence[Oid]) -> dict[Oid, Value]:
        """GET ``oids`` in one request: each OID's value (None when the agent has none)."""
        varbinds = await self._request(target, ber.GET, [(oid, None) for oid in oids])
        self._tally(target, len(varbinds))
        return {
            name: None if isinstance(value, ber.EndOfMib) else value for name, value in varbinds
        }

    async def walk(
        self,
        target: Target,
        columns: Sequence[Oid],
        *,
        rows_hint: int | None = None,
        limit: int = 200_000,
    ) -> dict[Oid, dict[Oid, Value]]:
        """Walk table ``columns`` together with GETBULK: ``{column: {index: value}}``.

        Each request asks the columns not yet finished; a column ends when the agent answers
        with an OID outside it. Every column of the last request runs past the table's end by
        the rows it did not need, so the rows asked are bounded: by ``rows_hint`` + 1 when the
        caller knows about how many rows there are (ifNumber for ifTable), else by
        :data:`PROBE_ROWS` in the first request (most tables of a device are short: LLDP,
        entities, VLANs) and ``max_repetitions`` after. ``limit`` stops a runaway agent.
        """
        rows: dict[Oid, dict[Oid, Value]] = {column: {} for column in columns}
        last: dict[Oid, Oid] = {column: column for column in dict.fromkeys(columns)}
        ceiling = self.max_repetitions
        seen = 0
        got = 0
        while last:
            pending = list(last)
            if rows_hint is not None and got < rows_hint:
                repetitions = min(ceiling, rows_hint - got + 1)
            elif got == 0:
                repetitions = min(ceiling, PROBE_ROWS)
            else:
                repetitions = ceiling
            request: list[tuple[Oid, int | None]] = [(last[c], None) for c in pending]
            try:
                varbinds = await self._request(
                    target, ber.GET_BULK, request, repetitions=repetitions
                )
            except _TooBigError:
                if repetitions == 1:
                    raise SnmpError("the agent answers tooBig even for one row") from None
                ceiling = max(1, repetitions // 2)
                continue
            got += len(varbinds) // len(pending)
            self._tally(target, len(varbinds))
            width = len(pending)
            finished: set[Oid] = set()
            for i, (oid, value) in enumerate(varbinds):
                column = pending[i % width]
                if column in finished:
                    continue
                size = len(column)
                if (
                    isinstance(value, ber.EndOfMib)
                    or oid[:size] != column
                    or oid <= last[column]  # an agent that does not go forward
                ):
                    finished.add(column)
                    continue
                rows[column][oid[size:]] = value
                last[column] = oid
            if not varbinds:
                finished.update(pending)
            for column in finished:
                del last[column]
            seen += len(varbinds)
            if seen > limit:
                raise SnmpError(f"more than {limit} values in one walk; stopped")
        return rows

    async def set_integer(self, target: Target, oid: Oid, value: int) -> None:
        """SET ``oid`` to the INTEGER ``value``; SnmpError when the agent refuses."""
        await self._request(target, ber.SET, [(oid, value)])

    # -- the plumbing ------------------------------------------------------------------------

    def _tally(self, target: Target, count: int) -> None:
        self.values += count
        self.received[target.device_id] = self.received.get(target.device_id, 0) + count

    def _engine(self, credential: Credential) -> tuple[SnmpEngine, CommunityData | UsmUserData]:
        found = self._engines.get(credential)
        if found is None:
            found = (SnmpEngine(), _auth_data(credential))
            self._engines[credential] = found
        return found

    async def _transport(self, target: Target) -> Any:
        key = (target.host, target.port)
        transport = self._transports.get(key)
        if transport is None:
            kind = Udp6TransportTarget if ":" in target.host else UdpTransportTarget
            try:
                transport = await kind.create(key, timeout=self.timeout_s, retries=self.retries)
            except PySnmpError as exc:
                raise SnmpError(f"bad address {target.host}:{target.port}: {exc}") from None
            self._transports[key] = transport
        return transport

    async def _request(
        self,
        target: Target,
        kind: int,
        varbinds: list[tuple[Oid, int | None]],
        *,
        repetitions: int = 0,
    ) -> list[tuple[Oid, ber.Answer]]:
        """Send one request (``ber.GET``, ``ber.GET_BULK`` or ``ber.SET``); the answer's
        bindings as ``(oid, Value or ber.END_OF_MIB)``."""
        if target.credential.version == "v2c":
            answer = await self._v2c_request(target, kind, varbinds, repetitions)
        else:
            answer = await self._pysnmp_request(target, kind, varbinds, repetitions)
        status, index, bindings = answer
        if status:
            if status == _TOO_BIG:
                raise _TooBigError()
            name = _ERROR_STATUS[status] if status < len(_ERROR_STATUS) else f"error {status}"
            where = ""
            if 0 < index <= len(varbinds):
                where = f" at {format_oid(varbinds[index - 1][0])}"
            raise SnmpError(f"the agent answered {name}{where}")
        return bindings

    async def _v2c_request(
        self, target: Target, kind: int, varbinds: list[tuple[Oid, int | None]], repetitions: int
    ) -> tuple[int, int, list[tuple[Oid, ber.Answer]]]:
        if self._v2c is None:
            self._v2c = _V2cSocket()
        community = (target.credential.community or "").encode()
        try:
            response = await self._v2c.request(
                target.host,
                target.port,
                lambda request_id: ber.encode_request(
                    kind, request_id, community, varbinds, max_repetitions=repetitions
                ),
                timeout_s=self.timeout_s,
                retries=self.retries,
            )
        except TimeoutError:
            raise SnmpTimeout(_timeout_message(target)) from None
        except OSError as exc:
            raise SnmpError(f"cannot send to {target.host}:{target.port}: {exc}") from None
        return response.error_status, response.error_index, response.varbinds

    async def _pysnmp_request(
        self, target: Target, kind: int, varbinds: list[tuple[Oid, int | None]], repetitions: int
    ) -> tuple[int, int, list[tuple[Oid, ber.Answer]]]:
        engine, auth = self._engine(target.credential)
        transport = await self._transport(target)
        try:
            address, _ = self._lcd.configure(engine, auth, transport, b"")
        except PySnmpError as exc:
            raise SnmpError(f"cannot set up SNMP for {target.host}: {exc}") from None
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[Any, int, int, Any]] = loop.create_future()

        def done(
            engine: Any,
            handle: Any,
            indication: Any,
            status: Any,
            index: Any,
            answer: Any,
            context: Any,
        ) -> None:
            if not future.done():
                future.set_result((indication, int(status or 0), int(index or 0), answer))

        request = [
            (
                rfc1902.ObjectName(oid),
                rfc1902.Null("") if value is None else rfc1902.Integer(value),
            )
            for oid, value in varbinds
        ]
        try:
            if kind == ber.GET_BULK:
                cmdgen.BulkCommandGeneratorSingleRun().send_varbinds(
                    engine, address, None, b"", 0, repetitions, request, done, None
                )
            elif kind == ber.SET:
                cmdgen.SetCommandGenerator().send_varbinds(
                    engine, address, None, b"", request, done, None
                )
            else:
                cmdgen.GetCommandGenerator().send_varbinds(
                    engine, address, None, b"", request, done, None
                )
        except PySnmpError as exc:
            raise SnmpError(f"cannot send to {target.host}:{target.port}: {exc}") from None
        # pysnmp's own timer answers with requestTimedOut; this bound only guards against a
        # request that pysnmp would never complete (so a round can never hang).
        bound = self.timeout_s * (self.retries + 1) + 5.0
        try:
            indication, status, index, answer = await asyncio.wait_for(future, bound)
        except TimeoutError:
            raise SnmpTimeout(_timeout_message(target)) from None
        if indication:
            if isinstance(indication, errind.RequestTimedOut) and _discovered(engine, transport):
                # The agent answered v3 engine discovery, then dropped the encrypted request:
                # net-snmp says nothing when it cannot decrypt (no usmStatsDecryptionErrors
                # report comes back), so a wrong privacy key looks like this.
                raise SnmpAuthError(
                    f"the agent answered SNMPv3 discovery but not the encrypted request: wrong "
                    f"priv key or protocol for user {target.credential.user!r}?"
                )
            raise _indication_error(target, indication)
        bindings: list[tuple[Oid, ber.Answer]] = [
            (tuple(name), ber.END_OF_MIB if type(value) is rfc1905.EndOfMibView else decode(value))
            for name, value in answer
        ]
        return status, index, bindings


class _V2cSocket(asyncio.DatagramProtocol):
    """One UDP socket per address family for every v2c request of a round.

    Answers are matched to requests by request-id and sender; a request that gets no answer is
    sent again, the same bytes, ``retries`` times, ``timeout_s`` apart (RFC 3416 section 4.1
    lets a manager retransmit with the same request-id).
    """

    # Answers from 64+ devices arrive in bursts: the default receive buffer would drop some.
    RECEIVE_BUFFER = 4 * 1024 * 1024

    def __init__(self) -> None:
        self._transports: dict[int, asyncio.DatagramTransport] = {}
        self._pending: dict[int, tuple[asyncio.Future[ber.Response], str, int]] = {}
        self._addresses: dict[tuple[str, int], tuple[int, str]] = {}
        self._next_id = secrets.randbelow(1 << 30) + 1

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        try:
            response = ber.decode_response(data)
        except ber.BerError as exc:
            log.debug("ignored an SNMP answer from %s: %s", addr[0], exc)
            return
        pending = self._pending.get(response.request_id)
        if pending is None:
            return  # a late answer to a request already given up, or a stranger's
        future, ip, port = pending
        if (addr[0], addr[1]) != (ip, port) or future.done():
            return
        future.set_result(response)

    def error_received(self, exc: Exception) -> None:
        # An ICMP error for some earlier datagram: the request it belonged to times out.
        log.debug("SNMP socket error: %s", exc)

    async def _resolve(self, host: str, port: int) -> tuple[int, str]:
        key = (host, port)
        found = self._addresses.get(key)
        if found is None:
            try:
                found = (
                    socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET,
                    str(ipaddress.ip_address(host)),
                )
            except ValueError:
                loop = asyncio.get_running_loop()
                try:
                    info = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
                except OSError as exc:
                    raise SnmpError(f"bad address {host}:{port}: {exc}") from None
                family, _, _, _, sockaddr = info[0]
                found = (int(family), str(sockaddr[0]))
            self._addresses[key] = found
        return found

    async def _transport(self, family: int) -> asyncio.DatagramTransport:
        transport = self._transports.get(family)
        if transport is None:
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.RECEIVE_BUFFER)
                sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))  # noqa: S104 - replies come from any device
                sock.setblocking(False)
                loop = asyncio.get_running_loop()
                transport, _ = await loop.create_datagram_endpoint(lambda: self, sock=sock)
            except BaseException:
                sock.close()
                raise
            self._transports[family] = transport
        return transport

    async def request(
        self,
        host: str,
        port: int,
        make: Callable[[int], bytes],
        *,
        timeout_s: float,
        retries: int,
    ) -> ber.Response:
        """Send the message ``make(request_id)`` and wait for its answer; TimeoutError when
        none comes after ``retries + 1`` sendings."""
        family, ip = await self._resolve(host, port)
        transport = await self._transport(family)
        request_id = self._next_id
        self._next_id = self._next_id % 0x7FFFFFFF + 1
        data = make(request_id)
        future: asyncio.Future[ber.Response] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (future, ip, port)
        try:
            for _ in range(retries + 1):
                transport.sendto(data, (ip, port))
                done, _ = await asyncio.wait((future,), timeout=timeout_s)
                if done:
                    return future.result()
            raise TimeoutError
        finally:
            self._pending.pop(request_id, None)
            if not future.done():
                future.cancel()

    def close(self) -> None:
        """Close the sockets."""
        for transport in self._transports.values():
            transport.close()
        self._transports.clear()


class _TooBigError(Exception):
    """The answer would not fit in one message: ask fewer rows."""


def _auth_data(credential: Credential) -> CommunityData | UsmUserData:
    if credential.version == "v2c":
        # v2c is what many district switches only speak; the credential file says which.
        return CommunityData(credential.community or "", mpModel=1)  # noqa: S508
    return UsmUserData(
        credential.user or "",
        authKey=credential.auth_key,
        privKey=credential.priv_key,
        authProtocol=_AUTH[credential.auth_protocol],
        privProtocol=_PRIV[credential.priv_protocol],
    )


def _discovered(engine: SnmpEngine, transport: Any) -> bool:
    """Whether the v3 agent at ``transport`` told its engine ID (answered at all)."""
    model = engine.message_processing_subsystems.get(3)
    if model is None:
        return False
    try:
        engine_id, _, _ = model.get_peer_engine_info(
            transport.TRANSPORT_DOMAIN, transport.transport_address
        )
    except Exception:  # pysnmp internals moved: fall back to a plain timeout
        return False
    return bool(engine_id)


def _timeout_message(target: Target) -> str:
    if target.credential.version == "v2c":
        return "no answer (timeout; wrong community?)"
    return "no answer (timeout)"


def _indication_error(target: Target, indication: Any) -> SnmpError:
    if isinstance(indication, errind.RequestTimedOut):
        return SnmpTimeout(_timeout_message(target))
    for kind, message in _AUTH_ERRORS.items():
        if isinstance(indication, kind):
            return SnmpAuthError(message.format(user=target.credential.user))
    return SnmpError(str(indication))


async def set_admin_status(
    target: Target, if_index: int, up: bool, *, timeout_s: float, retries: int
) -> None:
    """Set IF-MIB ifAdminStatus of port ``if_index`` to up (1) or down (2).

    Raises :class:`SnmpError` (or its timeout and auth kinds) when the agent does not accept it.
    """
    async with Client(timeout_s=timeout_s, retries=retries) as client:
        await client.set_integer(target, (*_IF_ADMIN_STATUS, if_index), 1 if up else 2)
