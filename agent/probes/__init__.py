"""Reachability probes, platform-neutral: gateway echo, DNS over UDP, HTTPS, TCP connect.

Every probe is bounded by its own timeout, and :func:`run_bounded` runs them concurrently in
daemon threads under one overall deadline, so a dead network (a black-holed gateway, a resolver
that never answers) cannot make the agent hang: a probe still running at the deadline is
reported as timed out and its thread is abandoned.

Names are resolved with our own DNS queries (RFC 1035) to known servers, never with
``getaddrinfo``: that cannot be bounded (glibc retries each resolver for ``timeout:5 attempts:2``,
resolv.conf(5)) and hides which server answered.
"""

from agent.probes._base import DNS_PORT, hosts_lookup, run_bounded, split_server
from agent.probes.dns import RCODE_NAMES, build_query, parse_response, probe_dns, resolve
from agent.probes.gateway import GATEWAY_TCP_PORTS, probe_gateway
from agent.probes.https import HttpsSpec, probe_https, reset_tls_contexts
from agent.probes.tcp import connect_any, probe_tcp

__all__ = [
    "DNS_PORT",
    "GATEWAY_TCP_PORTS",
    "RCODE_NAMES",
    "HttpsSpec",
    "build_query",
    "connect_any",
    "hosts_lookup",
    "parse_response",
    "probe_dns",
    "probe_gateway",
    "probe_https",
    "probe_tcp",
    "reset_tls_contexts",
    "resolve",
    "run_bounded",
    "split_server",
]
