#!/usr/bin/env python
"""Credentials and ports for the local control plane (used by hack/cluster/up.sh).

    bootstrap.py free-ports N          print N distinct free TCP ports on 127.0.0.1, reserved for 10 min
                                       against other free-ports runs (clusters started at once)
    bootstrap.py credentials STATE_DIR API_PORT
                                       write STATE_DIR/pki/* and STATE_DIR/*.kubeconfig

What `credentials` writes (all throw-away: down.sh deletes the state directory):
  pki/ca.{crt,key}                     the cluster CA (ECDSA P-256), signs every cert below
  pki/apiserver.{crt,key}              kube-apiserver serving cert (127.0.0.1, kubernetes.default...)
  pki/apiserver-kubelet-client.{crt,key}  client cert the apiserver shows to "kubelets" (kwok)
  pki/kwok.{crt,key}                   kwok's kubelet-API serving cert (127.0.0.1)
  pki/kube-controller-manager.{crt,key}, pki/kube-scheduler.{crt,key}  their /healthz serving certs
  pki/front-proxy-ca.{crt,key}, pki/front-proxy-client.{crt,key}  aggregation-layer request headers
  pki/sa.{key,pub}                     service-account token signing key pair
  pki/tokens.csv                       static tokens for --token-auth-file
  admin.kubeconfig                     user "openrollout-admin", group system:masters
  kube-controller-manager.kubeconfig   user system:kube-controller-manager (bootstrap RBAC)
  kube-scheduler.kubeconfig            user system:kube-scheduler (bootstrap RBAC)
  kwok.kubeconfig                      user "kwok", group system:masters (it plays every kubelet)
  pki/kubelet.{crt,key}                the real node's kubelet serving cert (node IP, 127.0.0.1)
  kubelet.kubeconfig                   user system:node:<REAL_NODE_NAME>, group system:nodes
                                       (the Node authorizer's identity for a kubelet)
  kube-proxy.kubeconfig                user system:kube-proxy (bootstrap RBAC: system:node-proxier)
  prometheus.kubeconfig                user "openrollout-prometheus": its Kubernetes service discovery,
                                       may only get, list and watch pods (prometheus/rbac.yaml)

Only the standard library and `cryptography` are needed.
"""

from __future__ import annotations

import base64
import datetime
import fcntl
import ipaddress
import json
import os
import secrets
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVICE_CLUSTER_IP = "10.96.0.1"  # first address of --service-cluster-ip-range=10.96.0.0/16
# The real node (hack/cluster/node.sh): its name and the address it reports, the gateway of its
# pod bridge. Kept in step with node.sh's REAL_NODE_NAME and REAL_NODE_IP.
REAL_NODE_NAME = "openrollout-node"
REAL_NODE_IP = "10.88.0.1"
VALIDITY = datetime.timedelta(days=365)
LOOPBACK_IPS = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class Identity:
    """A static-token user and the kubeconfig written for it."""

    kubeconfig: str
    user: str
    groups: tuple[str, ...]


IDENTITIES = (
    Identity("admin", "openrollout-admin", ("system:masters",)),
    Identity("kube-controller-manager", "system:kube-controller-manager", ()),
    Identity("kube-scheduler", "system:kube-scheduler", ()),
    Identity("kwok", "kwok", ("system:masters",)),
    Identity("kubelet", f"system:node:{REAL_NODE_NAME}", ("system:nodes",)),
    Identity("kube-proxy", "system:kube-proxy", ()),
    Identity("prometheus", "openrollout-prometheus", ()),
)


# Ports handed out by free-ports to any cluster on this machine, with when their reservation ends:
# between free-ports and the moment a component binds its port, the kernel would give the same
# port to another up.sh run that asks at that time (several clusters started at once, a fleet's).
RESERVATIONS = Path(os.environ.get("TMPDIR") or "/tmp") / "openrollout-cluster-ports.json"
# Long enough for up.sh to start every component; once bound, a port is never handed out again.
RESERVATION_SECONDS = 600


def _pick_ports(count: int, taken: set[int]) -> list[int]:
    """`count` distinct ports the kernel says are free, none of `taken`: all sockets held until the end."""
    socks = []
    try:
        ports: list[int] = []
        for _attempt in range(count + len(taken) + 100):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            port = s.getsockname()[1]
            if port not in taken:
                ports.append(port)
            if len(ports) == count:
                return ports
        raise RuntimeError(f"free-ports: no {count} free ports outside the {len(taken)} reserved ones")
    finally:
        for s in socks:
            s.close()


def free_ports(count: int, reservations: Path = RESERVATIONS, now: float | None = None) -> list[int]:
    """`count` distinct free ports, reserved for RESERVATION_SECONDS against other free-ports calls.

    The reservations (a JSON object, port -> expiry) are read and written under an exclusive lock,
    so two clusters starting at the same moment never get the same port.
    """
    now = time.time() if now is None else now
    with open(reservations.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            held = {int(p): float(t) for p, t in json.loads(reservations.read_text()).items()}
        except (OSError, ValueError, AttributeError):
            held = {}
        held = {port: until for port, until in held.items() if until > now}
        ports = _pick_ports(count, set(held))
        held.update(dict.fromkeys(ports, now + RESERVATION_SECONDS))
        tmp = reservations.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({str(p): t for p, t in sorted(held.items())}))
        tmp.replace(reservations)
    return ports


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _name(common_name: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _ca(
    pki: Path, now: datetime.datetime, stem: str, common_name: str
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _key()
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(pki / f"{stem}.key", key)
    (pki / f"{stem}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def _leaf(
    pki: Path,
    stem: str,
    ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
    now: datetime.datetime,
    *,
    common_name: str,
    org: str | None = None,
    dns: tuple[str, ...] = (),
    ips: tuple[str, ...] = (),
    server: bool = False,
    client: bool = False,
) -> None:
    ca_key, ca_cert = ca
    key = _key()
    usages = []
    if server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if client:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, org))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    _write_key(pki / f"{stem}.key", key)
    (pki / f"{stem}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _kubeconfig(server: str, ca_pem: bytes, user: str, token: str) -> str:
    ca_data = base64.b64encode(ca_pem).decode()
    return (
        "apiVersion: v1\n"
        "kind: Config\n"
        "clusters:\n"
        "- name: openrollout-local\n"
        "  cluster:\n"
        f"    server: {server}\n"
        f"    certificate-authority-data: {ca_data}\n"
        "users:\n"
        f"- name: {user}\n"
        "  user:\n"
        f"    token: {token}\n"
        "contexts:\n"
        "- name: openrollout-local\n"
        "  context:\n"
        "    cluster: openrollout-local\n"
        f"    user: {user}\n"
        "    namespace: default\n"
        "current-context: openrollout-local\n"
    )


def credentials(state: Path, api_port: int) -> None:
    pki = state / "pki"
    pki.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca = _ca(pki, now, "ca", "openrollout-local-ca")
    _leaf(
        pki,
        "apiserver",
        ca,
        now,
        common_name="kube-apiserver",
        server=True,
        dns=(
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ),
        ips=(*LOOPBACK_IPS, SERVICE_CLUSTER_IP),
    )
    _leaf(
        pki,
        "apiserver-kubelet-client",
        ca,
        now,
        common_name="kube-apiserver-kubelet-client",
        org="system:masters",
        client=True,
    )
    for stem in ("kwok", "kube-controller-manager", "kube-scheduler"):
        _leaf(
            pki,
            stem,
            ca,
            now,
            common_name=stem,
            server=True,
            dns=("localhost",),
            ips=LOOPBACK_IPS,
        )

    # The apiserver checks the kubelet's serving cert against the cluster CA
    # (--kubelet-certificate-authority) at the address the node reports.
    _leaf(
        pki,
        "kubelet",
        ca,
        now,
        common_name=REAL_NODE_NAME,
        server=True,
        dns=(REAL_NODE_NAME, "localhost"),
        ips=(REAL_NODE_IP, *LOOPBACK_IPS),
    )

    # Front proxy (aggregation layer): lets components that delegate authentication to the
    # apiserver (controller-manager, scheduler, aggregated APIs) trust its request headers.
    front_proxy_ca = _ca(pki, now, "front-proxy-ca", "openrollout-local-front-proxy-ca")
    _leaf(
        pki,
        "front-proxy-client",
        front_proxy_ca,
        now,
        common_name="front-proxy-client",
        client=True,
    )

    sa_key = _key()
    _write_key(pki / "sa.key", sa_key)
    (pki / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )

    ca_pem = (pki / "ca.crt").read_bytes()
    server = f"https://127.0.0.1:{api_port}"
    rows = []
    for ident in IDENTITIES:
        token = secrets.token_hex(24)
        groups = ",".join(ident.groups)
        rows.append(f"{token},{ident.user},{ident.user}" + (f',"{groups}"' if groups else ""))
        path = state / f"{ident.kubeconfig}.kubeconfig"
        path.write_text(_kubeconfig(server, ca_pem, ident.user, token))
        path.chmod(0o600)
    tokens = pki / "tokens.csv"
    tokens.write_text("\n".join(rows) + "\n")
    tokens.chmod(0o600)


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "free-ports":
        print(" ".join(str(p) for p in free_ports(int(argv[1]))))
        return 0
    if len(argv) == 3 and argv[0] == "credentials":
        os.umask(0o077)
        credentials(Path(argv[1]), int(argv[2]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
