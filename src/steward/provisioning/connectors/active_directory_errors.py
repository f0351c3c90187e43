"""Sorting ldap3's failures into the two kinds the provisioning run understands, in plain words.

The server, the network, TLS and Steward's own credentials concern every account: `TargetUnavailable`
stops the run. A name or value the directory refuses concerns one account or group: `AccountRefused`
names it and the run goes on. The directory's own message follows the plain words, in brackets, for
whoever supports the school's AD (Windows puts codes such as ``0000052D`` there).
"""

from __future__ import annotations

from ldap3.core import exceptions as ldap_errors

from steward.provisioning.connectors.base import AccountRefused, TargetUnavailable

# Result codes about the one account or group being written, not about the directory.
REFUSALS = (
    ldap_errors.LDAPEntryAlreadyExistsResult,
    ldap_errors.LDAPConstraintViolationResult,
    ldap_errors.LDAPUnwillingToPerformResult,
    ldap_errors.LDAPAttributeOrValueExistsResult,
    ldap_errors.LDAPInvalidAttributeSyntaxResult,
    ldap_errors.LDAPObjectClassViolationResult,
    ldap_errors.LDAPNamingViolationResult,
    ldap_errors.LDAPInvalidDNSyntaxResult,
    ldap_errors.LDAPNotAllowedOnRDNResult,
    ldap_errors.LDAPNoSuchObjectResult,
    ldap_errors.LDAPNoSuchAttributeResult,
    ldap_errors.LDAPUndefinedAttributeTypeResult,
)
_PASSWORD_WORDS = ("password", "pwd")
_POLICY_CODE = "0000052d"  # Windows' code for "does not meet the password policy" (also for none at all)


def refused(subject: str, exc: ldap_errors.LDAPOperationResult, *, password_sent: bool) -> AccountRefused:
    detail = str(exc.message or exc.description or "").strip()
    said = f" (Active Directory said: {detail})" if detail else ""
    if _POLICY_CODE in detail.lower() or (password_sent and any(word in detail.lower() for word in _PASSWORD_WORDS)):
        reason = "the initial password does not meet the domain's password policy (length, complexity or history)"
    elif isinstance(exc, ldap_errors.LDAPEntryAlreadyExistsResult | ldap_errors.LDAPAttributeOrValueExistsResult):
        reason = "another account or group already has this name (short name, sign-in name, or name in the OU)"
    elif isinstance(exc, ldap_errors.LDAPNoSuchObjectResult):
        reason = "it, or the OU it belongs in, is not in Active Directory"
    elif isinstance(exc, ldap_errors.LDAPConstraintViolationResult):
        reason = "Active Directory refused one of its values (too long, or not unique)"
    else:
        reason = "Active Directory refused it"
    return AccountRefused(f"{subject}: {reason}{said}")


def unavailable(
    exc: ldap_errors.LDAPException, *, where: str, host: str, bind_user: str, base_dn: str
) -> TargetUnavailable:
    text = str(exc)
    if isinstance(exc, ldap_errors.LDAPInvalidCredentialsResult):
        reason = (
            f"Active Directory at {where} refused Steward's sign-in as {bind_user!r}: "
            "the user name or password is wrong, or that account is disabled, locked or expired."
        )
    elif isinstance(exc, ldap_errors.LDAPStrongerAuthRequiredResult | ldap_errors.LDAPConfidentialityRequiredResult):
        reason = f"Active Directory at {where} only accepts encrypted connections: use an ldaps:// URL or StartTLS."
    elif "CERTIFICATE_VERIFY_FAILED" in text or isinstance(exc, ldap_errors.LDAPCertificateError):
        reason = (
            f"The TLS certificate of {where} is not trusted or is not for {host!r}: give the CA certificate "
            "that issued it, or connect by the name it was issued for."
        )
    elif isinstance(exc, ldap_errors.LDAPStartTLSError):
        reason = f"StartTLS with {where} failed: {text}"
    elif isinstance(exc, ldap_errors.LDAPSocketOpenError):
        reason = f"Active Directory at {where} cannot be reached (no answer, or the connection was refused)."
    elif isinstance(exc, ldap_errors.LDAPCommunicationError | ldap_errors.LDAPResponseTimeoutError):
        reason = f"The connection to Active Directory at {where} was lost or timed out."
    elif isinstance(
        exc, ldap_errors.LDAPBusyResult | ldap_errors.LDAPUnavailableResult | ldap_errors.LDAPAdminLimitExceededResult
    ):
        reason = f"Active Directory at {where} is busy or unavailable; try again later."
    elif isinstance(exc, ldap_errors.LDAPInsufficientAccessRightsResult):
        reason = (
            f"Steward's account {bind_user!r} is not allowed to do this in Active Directory "
            f"(delegate it control of {base_dn})."
        )
    else:
        reason = f"Active Directory at {where} failed: {text}"
    return TargetUnavailable(reason)
