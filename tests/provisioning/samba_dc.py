"""A real Active Directory for the connector's tests: Samba's AD domain controller, run by the test session.

`make directory` installs Debian's Samba packages. Provisioning a domain takes a few seconds (longer on
a loaded machine), so the provisioned folder is kept under `var/samba-dc/<samba version>/` (`STEWARD_VAR_DIR`)
and copied fresh into each session's temporary folder; a session never changes the cached copy.

The server runs as one process (`samba -i -M single`, which exits when its stdin closes, so it never
outlives the test process) with only the LDAP service, bound to a random address in 127.0.0.0/8: every
address there is the loopback interface on Linux, so two sessions (two worktrees, or CI next to a
developer) never fight over ports 389/636. Its TLS certificate is issued per
session by a throwaway CA (trustme) for that address, so the connector checks it the way it would check a
school's: against a CA file, with the host name verified, never with verification turned off.

Samba refuses simple binds without TLS (`ldap server require strong auth`, as a hardened Windows AD does)
and enforces the default AD password policy (complexity on, at least 7 characters).
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ldap3
import trustme

from steward.core.paths import VAR_DIR

SAMBA = "/usr/sbin/samba"
SAMBA_TOOL = "/usr/bin/samba-tool"
REALM = "STEWARD.TEST"
DOMAIN = "STEWARD"
BASE_DN = "DC=steward,DC=test"
ADMIN_PASSWORD = "Steward-Admin-2026!"
ADMIN_USER = "Administrator@steward.test"


@dataclass(frozen=True)
class SambaDC:
    """A running domain controller: where it listens and what trusts it."""

    host: str
    ca_file: str
    folder: Path
    process: subprocess.Popen[bytes]

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://{self.host}"

    @property
    def ldap_url(self) -> str:
        return f"ldap://{self.host}"


def samba_version() -> str:
    """`4.17.12-Debian`: the cache key, since a provisioned database belongs to the version that made it."""
    out = subprocess.run([SAMBA, "--version"], check=True, capture_output=True, text=True).stdout
    return out.strip().removeprefix("Version ").replace("/", "_")


def missing_reason() -> str | None:
    """Why the test AD cannot run here, or None."""
    for binary in (SAMBA, SAMBA_TOOL):
        if not os.access(binary, os.X_OK):
            return f"{binary} is missing: run `make directory` (installs Debian's Samba AD DC packages)"
    if os.geteuid() != 0:
        return "Samba's AD domain controller runs only as root"
    return None


def provisioned_template() -> Path:
    """The cached provisioned domain for this Samba version, provisioning it first if needed.

    Provisioned into a temporary folder next to the cache and renamed into place, so a session that
    is interrupted, or two that start together, never leave or read a half-made copy.
    """
    cache_root = VAR_DIR / "samba-dc"
    template = cache_root / samba_version()
    if (template / "private" / "sam.ldb").exists():
        return template
    cache_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="provision-", dir=cache_root))
    (work / "etc").mkdir()
    (work / "state").mkdir()
    smb_conf = work / "etc" / "smb.conf"
    smb_conf.write_text("")  # an empty smb.conf of our own, so the host's /etc/samba/smb.conf is not read
    # NT ACLs of the sysvol folder go to a TDB file (xattr_tdb), not to filesystem extended attributes.
    command = [
        SAMBA_TOOL,
        "domain",
        "provision",
        f"--configfile={smb_conf}",
        f"--targetdir={work}",
        f"--realm={REALM}",
        f"--domain={DOMAIN}",
        "--host-name=dc1",
        "--server-role=dc",
        "--dns-backend=NONE",
        "--backend-store=tdb",
        f"--adminpass={ADMIN_PASSWORD}",
        "--option=vfs objects = dfs_samba4 acl_xattr xattr_tdb",
        f"--option=xattr_tdb:file = {work / 'state' / 'xattr.tdb'}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        raise RuntimeError(f"samba-tool domain provision failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
    try:
        work.rename(template)
    except OSError:  # another session finished first: use its copy
        shutil.rmtree(work, ignore_errors=True)
    return template


def _serve_conf(folder: Path, host: str) -> str:
    tls = folder / "private" / "tls"
    return f"""[global]
\tnetbios name = DC1
\tworkgroup = {DOMAIN}
\trealm = {REALM}
\tserver role = active directory domain controller
\tserver services = ldap
\tdcerpc endpoint servers =
\tinterfaces = {host}/8
\tbind interfaces only = yes
\tprivate dir = {folder / "private"}
\tstate directory = {folder / "state"}
\tcache directory = {folder / "cache"}
\tlock directory = {folder}
\tpid directory = {folder / "run"}
\tncalrpc dir = {folder / "run" / "ncalrpc"}
\tbinddns dir = {folder / "bind-dns"}
\twinbindd socket directory = {folder / "run" / "winbindd"}
\tlog file = {folder / "log" / "samba.log"}
\tlogging = file
\tlog level = 1
\ttls enabled = yes
\ttls keyfile = {tls / "steward-key.pem"}
\ttls certfile = {tls / "steward-cert.pem"}
\ttls cafile = {tls / "steward-ca.pem"}
\tvfs objects = dfs_samba4 acl_xattr xattr_tdb
\txattr_tdb:file = {folder / "state" / "xattr.tdb"}
"""


def _answers_tls(host: str, ca_file: str) -> bool:
    context = ssl.create_default_context(cafile=ca_file)
    try:
        with socket.create_connection((host, 636), timeout=2) as raw, context.wrap_socket(raw, server_hostname=host):
            return True
    except OSError:
        return False


def start(session_folder: Path, *, wait_seconds: float = 120.0) -> SambaDC:
    """Copy the provisioned domain into `session_folder`, issue its certificate, start Samba, wait for LDAPS."""
    folder = session_folder / "dc"
    shutil.copytree(provisioned_template(), folder, symlinks=True)
    for sub in ("run", "log", "cache"):
        (folder / sub).mkdir(exist_ok=True)
    host = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
    ca = trustme.CA()
    cert = ca.issue_cert(host, "dc1.steward.test")
    tls = folder / "private" / "tls"
    tls.mkdir(exist_ok=True)
    cert.private_key_pem.write_to_path(str(tls / "steward-key.pem"))
    os.chmod(tls / "steward-key.pem", 0o600)  # Samba refuses a key file others can read
    cert.cert_chain_pems[0].write_to_path(str(tls / "steward-cert.pem"))
    ca.cert_pem.write_to_path(str(tls / "steward-ca.pem"))
    ca_file = session_folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    conf = folder / "etc" / "serve.conf"
    conf.write_text(_serve_conf(folder, host))
    log = (folder / "log" / "stdout.log").open("wb")
    process = subprocess.Popen(
        [SAMBA, "-i", "-M", "single", f"--configfile={conf}"],
        stdin=subprocess.PIPE,  # `samba -i` exits when its stdin closes: also when this process dies
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    deadline = time.monotonic() + wait_seconds
    while not _answers_tls(host, str(ca_file)):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process)
            output = (folder / "log" / "stdout.log").read_text(errors="replace")[-4000:]
            raise RuntimeError(f"Samba did not answer LDAPS on {host}:636 (exit {process.returncode}):\n{output}")
        time.sleep(0.2)
    return SambaDC(host=host, ca_file=str(ca_file), folder=folder, process=process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop the server this session started (by its own process, never by name): closing its stdin
    ends it; a signal only if it does not go."""
    if process.stdin is not None:
        process.stdin.close()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def admin_connection(server: SambaDC) -> ldap3.Connection:
    """The domain administrator's own connection, to set up and to read back independently of the connector.
    It reads the schema, so values come back typed (userAccountControl an int, single values unlisted)."""
    # Reading back only; ldap3's own host name check warns on Python 3.11, and the connector's tests verify TLS.
    tls = ldap3.Tls(validate=ssl.CERT_NONE)
    return ldap3.Connection(
        ldap3.Server(server.host, port=636, use_ssl=True, tls=tls, get_info=ldap3.SCHEMA),
        user=ADMIN_USER,
        password=ADMIN_PASSWORD,
        auto_bind=True,
        raise_exceptions=True,
    )


def read(admin: ldap3.Connection, base: str, search_filter: str, *attributes: str) -> list[dict[str, Any]]:
    """Entries as the administrator sees them (dn plus the attributes asked for)."""
    admin.search(base, search_filter, ldap3.SUBTREE, attributes=list(attributes) or ["cn"])
    return [
        {"dn": entry["dn"], **entry["attributes"]}
        for entry in admin.response or []
        if entry["type"] == "searchResEntry"
    ]
