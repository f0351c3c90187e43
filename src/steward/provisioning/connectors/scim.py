"""The SCIM 2.0 connector (RFC 7643/7644): accounts and groups in Entra ID, Google's SCIM bridge,
and the many apps that take SCIM, built on scim2-models (the resources) and scim2-client (requests
and response checks), over `scim_transport` (httpx, retries). No Django here: a connector is tested
against a real server alone (`steward.demo.scim_server`).

Real providers read the RFCs differently, so the connector asks before it assumes:
- `/ServiceProviderConfig` is read once per connector: without PATCH it writes with GET + PUT;
  without filters it finds accounts by reading the list; with ETags every write carries
  `If-Match` and a 412 (someone else changed it) re-reads once; `maxResults` caps a page.
- `find` looks up by `externalId`, then by `userName`, so a first sync adopts the accounts a
  school already has instead of creating duplicates.
- PATCH op names: RFC 7644 says `replace`, some providers (older Entra ID apps) want `Replace`:
  `patch_op_case="capitalised"`. Only the attributes the run names in `changed` are sent.
- Booleans sent back as strings ("True"/"False") are read as booleans (pydantic's lax mode).
- A PATCH answered 405/501 (a provider that advertises PATCH and lacks it) switches to PUT.
- Errors: 409/400/404 about one account -> `AccountRefused` with the provider's detail and
  scimType; 401/403, unreachable, 5xx or 429 after the retries -> `TargetUnavailable`.

SCIM has no standard way to make a user change a password at first sign-in, so
`capabilities.forced_password_change` is False (the directory's own policy decides).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

import httpx
from pydantic import ValidationError
from scim2_client.errors import SCIMClientException
from scim2_models import (
    Context,
    Email,
    EnterpriseUser,
    Group,
    ListResponse,
    Name,
    PatchOp,
    Resource,
    ResourceType,
    SCIMException,
    ScimProvider,
    SearchRequest,
    User,
)

from steward.provisioning.connectors.base import (
    Account,
    AccountRefused,
    Capabilities,
    Created,
    RemoteAccount,
    TargetUnavailable,
)
from steward.provisioning.connectors.scim_transport import ScimTransport

ScimUser = User[EnterpriseUser]
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
_USER_TYPES = {"staff": "Staff", "learner": "Student"}
R = TypeVar("R", bound=Resource[Any])


class _Gone(AccountRefused):
    """404: the resource is not (or no longer) in the directory."""


class _Conflict(AccountRefused):
    """409: the directory holds another resource with the same unique value."""


class _Stale(AccountRefused):
    """412: the version Steward read is not the directory's any more."""


class _NoPatch(AccountRefused):
    """405/501 to a PATCH: the provider does not do PATCH, whatever it advertised."""


@dataclass(frozen=True)
class Features:
    """What the provider's /ServiceProviderConfig says it supports."""

    patch: bool
    filter: bool
    etag: bool
    max_results: int | None


# What a first sync needs of each existing account to adopt it (`remote_account`).
LISTED = ["userName", "externalId", "emails", "active"]


def _search(scim_filter: str | None, start: int, count: int, attributes: list[str] | None = None) -> SearchRequest[Any]:
    """A query's parameters (a filter string is parsed and checked by scim2-models); `attributes`
    asks for only those (the id always comes), which keeps a long listing small."""
    query: dict[str, Any] = {"filter": scim_filter, "startIndex": start, "count": count}
    if attributes:
        query["attributes"] = attributes
    return SearchRequest[Any].model_validate(query)


def filter_value(value: str) -> str:
    """A SCIM filter's comparison value: a JSON string, so quotes and backslashes are escaped."""
    return json.dumps(value, ensure_ascii=False)


def remote_account(user: User[Any]) -> RemoteAccount:
    """The directory's account as the run reads it; the primary email (else the first)."""
    emails = user.emails or []
    primary = next((e for e in emails if e.primary), emails[0] if emails else None)
    return RemoteAccount(
        remote_id=user.id or "",
        user_name=user.user_name or "",
        external_id=user.external_id or "",
        email=(primary.value or "") if primary else "",
        active=True if user.active is None else bool(user.active),
    )


def _user_values(account: Account, enterprise: bool) -> dict[str, Any]:
    """Each SCIM attribute path Steward writes, with `account`'s value (None: unset), by field."""
    values: dict[str, Any] = {
        "external_id": ("externalId", account.external_id),
        "user_name": ("userName", account.user_name),
        "given_name": ("name.givenName", account.given_name),
        "family_name": ("name.familyName", account.family_name),
        "display_name": ("displayName", account.display_name),
        "email": ("emails", [{"value": account.email, "type": "work", "primary": True}] if account.email else None),
        "active": ("active", account.active),
        "title": ("title", account.title),
        "kind": ("userType", _USER_TYPES[account.kind]),
    }
    if enterprise:
        values["department"] = (f"{ENTERPRISE}:department", account.department)
    return {field: (path, value if value != "" else None) for field, (path, value) in values.items()}


def _set_path(document: dict[str, Any], path: str, value: Any) -> None:
    """Write one attribute path (as `_user_values` names them) into a resource's JSON, for PUT."""
    if path.startswith(ENTERPRISE + ":"):
        document, path = document.setdefault(ENTERPRISE, {}), path.removeprefix(ENTERPRISE + ":")
    parent, _, leaf = path.rpartition(".")
    if parent:
        document = document.setdefault(parent, {}) or {}
    if value is None:
        document.pop(leaf, None)
    else:
        document[leaf] = value


class ScimConnector:
    """One SCIM 2.0 directory, reached at `base_url` (…/v2 or …/scim) with a bearer `token`."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 10.0,
        max_retries: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = 120.0,
        page_size: int = 500,
        parallel: int = 4,
        patch_op_case: Literal["lower", "capitalised"] = "lower",
        enterprise_extension: bool = True,
    ) -> None:
        self.capabilities = Capabilities(
            containers=False,
            forced_password_change=False,
            passwords=True,
            parallel=parallel,
            notes=[
                "SCIM has no standard way to make a user change the initial password at first sign-in; "
                "the directory's own password policy decides.",
                "SCIM directories have no OUs: an account's container is not written.",
            ],
        )
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/scim+json, application/json"},
            timeout=timeout,
        )
        provider = ScimProvider(
            models=(User, EnterpriseUser, Group),
            resource_types=(ResourceType.from_resource(ScimUser), ResourceType.from_resource(Group)),
        )
        self._scim = ScimTransport(
            self._http, max_retries=max_retries, sleep=sleep, max_wait=max_wait, provider=provider
        )
        self._page_size = page_size
        self._capitalise = patch_op_case == "capitalised"
        self._enterprise = enterprise_extension
        self._features: Features | None = None
        self._patch_works = True
        self._versions: dict[str, str] = {}  # resource id -> the ETag it was last read or written with

    # -- discovery -------------------------------------------------------------------------------

    @property
    def features(self) -> Features:
        """The provider's /ServiceProviderConfig, read on first use and kept for this connector."""
        if self._features is None:
            with self._target("read its /ServiceProviderConfig"):
                self._scim.discover(schemas=False, resource_types=False, service_provider_config=True)
            config = self._scim.provider.config
            if config is None:
                raise TargetUnavailable("the directory published no /ServiceProviderConfig")
            self._features = Features(
                patch=bool(config.patch and config.patch.supported),
                filter=bool(config.filter and config.filter.supported),
                etag=bool(config.etag and config.etag.supported),
                max_results=config.filter.max_results if config.filter else None,
            )
        return self._features

    def check(self) -> None:
        # /ServiceProviderConfig needs no authentication (RFC 7644 §4), so one page of one user
        # proves the token too.
        _ = self.features
        with self._target("list its users"):
            self._scim.query(ScimUser, query_parameters=_search(None, 1, 1))

    # -- reading ---------------------------------------------------------------------------------

    def existing(self) -> Iterator[RemoteAccount]:
        for user in self._all(ScimUser, attributes=LISTED):
            yield remote_account(user)

    def find(self, account: Account) -> RemoteAccount | None:
        for attribute, value in (("externalId", account.external_id), ("userName", account.user_name)):
            if value:
                with self._account(f"the account {account.user_name}"):
                    user = self._find_one(ScimUser, attribute, value)
                if user is not None:
                    return remote_account(user)
        return None

    def _all(self, model: type[R], scim_filter: str | None = None, attributes: list[str] | None = None) -> Iterator[R]:
        """Every resource of one type (matching `scim_filter`), page by page with startIndex/count
        until totalResults; a provider may give fewer than asked, so the next page starts after
        what actually came."""
        count = self._page_size
        if self.features.max_results:
            count = min(count, self.features.max_results)
        start = 1
        while True:
            request = _search(scim_filter, start, count, attributes)
            with self._target(f"list its {model.__name__}s"):
                page = cast("ListResponse[R]", self._scim.query(model, query_parameters=request))
            resources = page.resources or []
            for resource in resources:
                self._remember(resource)
                yield resource
            start += len(resources)
            if not resources or start > (page.total_results or 0):
                return

    def _find_one(self, model: type[R], attribute: str, value: str) -> R | None:
        """The resource whose `attribute` equals `value`, by filter, or by reading the list when the
        provider has no filters (userName and displayName compare without case, as RFC 7643 says)."""
        if self.features.filter:
            request = _search(f"{attribute} eq {filter_value(value)}", 1, 2)
            page = cast("ListResponse[R]", self._scim.query(model, query_parameters=request))
            found = page.resources or []
            for resource in found:
                self._remember(resource)
            return found[0] if found else None
        field = {"externalId": "external_id", "userName": "user_name", "displayName": "display_name"}[attribute]
        exact = attribute == "externalId"
        for resource in self._all(model):
            candidate = getattr(resource, field, None) or ""
            if candidate == value or (not exact and candidate.casefold() == value.casefold()):
                return resource
        return None

    # -- writing accounts ------------------------------------------------------------------------

    def create(self, account: Account, *, password: str | None, must_change_password: bool) -> Created:
        # must_change_password cannot be carried by SCIM (see `capabilities`); the run knows.
        user = self._user(account, password)
        try:
            with self._account(f"the account {account.user_name}"):
                created = self._scim.create(user)
        except _Conflict:
            # A create retried after a timeout may have been made the first time: then the
            # conflicting account carries this person's external id and is the one we made.
            with self._account(f"the account {account.user_name}"):
                mine = self._find_one(ScimUser, "externalId", account.external_id)
            if mine is not None and mine.id:
                return Created(remote_id=mine.id)
            raise
        if not isinstance(created, Resource) or not created.id:
            with self._account(f"the account {account.user_name}"):
                mine = self._find_one(ScimUser, "externalId", account.external_id)
            if mine is None or not mine.id:
                raise AccountRefused(f"the directory did not say which id it gave the account {account.user_name}")
            return Created(remote_id=mine.id)
        self._remember(created)
        return Created(remote_id=created.id)

    def _user(self, account: Account, password: str | None) -> User[Any]:
        """The SCIM user for `account`; a value SCIM cannot take (an email that is not one) is
        refused here, naming the field, before anything is sent."""
        try:
            emails = [Email(value=account.email, type=Email.Type.work, primary=True)] if account.email else None
        except ValidationError as exc:
            raise AccountRefused(
                f"the account {account.user_name} has an email {account.email!r}: {exc.errors()[0]['msg']}"
            ) from exc
        try:
            user = ScimUser(
                external_id=account.external_id,
                user_name=account.user_name,
                display_name=account.display_name or None,
                name=Name(given_name=account.given_name or None, family_name=account.family_name or None),
                emails=emails,
                active=account.active,
                title=account.title or None,
                user_type=_USER_TYPES[account.kind],
                password=password,
            )
            if self._enterprise and account.department:
                user[EnterpriseUser] = EnterpriseUser(department=account.department)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise AccountRefused(
                f"the account {account.user_name} has a value SCIM cannot take: {where}: {first['msg']}"
            ) from exc
        return user

    def update(self, remote_id: str, account: Account, changed: Sequence[str]) -> None:
        values = _user_values(account, self._enterprise)
        paths = [values[field] for field in dict.fromkeys(changed) if field in values]
        if not paths:
            return  # login, container and groups have no SCIM attribute here (see `capabilities`)
        operations: list[dict[str, Any]] = [
            {"op": "replace", "path": path, "value": value} if value is not None else {"op": "remove", "path": path}
            for path, value in paths
        ]
        self._modify(ScimUser, remote_id, operations, f"the account {account.user_name}", paths)

    def delete(self, remote_id: str) -> None:
        what = f"the account with id {remote_id}"
        for attempt in (1, 2):
            headers = self._if_match(ScimUser, remote_id, what, fresh=attempt > 1)
            if headers is None:
                return  # already gone
            try:
                with self._account(what):
                    self._scim.delete(ScimUser, remote_id, headers=headers)
            except _Gone:
                break
            except _Stale:
                if attempt == 2:
                    raise
                continue
            break
        self._versions.pop(remote_id, None)

    # -- groups ----------------------------------------------------------------------------------

    def ensure_group(self, name: str, container: str = "") -> str:
        # SCIM groups have no container either; display names are unique enough for a school's groups.
        what = f"the group {name}"
        with self._account(what):
            group = self._find_one(Group, "displayName", name)
        if group is None:
            try:
                with self._account(what):
                    made = self._scim.create(Group(display_name=name))
            except _Conflict:  # made meanwhile by someone else
                with self._account(what):
                    group = self._find_one(Group, "displayName", name)
                if group is None:
                    raise
            else:
                group = made if isinstance(made, Group) else None
        if group is None or not group.id:
            raise AccountRefused(f"the directory did not say which id it gave {what}")
        self._remember(group)
        return group.id

    def change_members(self, group_id: str, *, add: Sequence[str] = (), remove: Sequence[str] = ()) -> None:
        if not add and not remove:
            return
        operations: list[dict[str, Any]] = []
        if add:
            operations.append({"op": "add", "path": "members", "value": [{"value": member} for member in add]})
        operations += [{"op": "remove", "path": f"members[value eq {filter_value(m)}]"} for m in remove]
        self._modify(Group, group_id, operations, f"the group with id {group_id}", None, (add, remove))

    def close(self) -> None:
        self._http.close()

    # -- PATCH, PUT, versions --------------------------------------------------------------------

    def _modify(
        self,
        model: type[R],
        remote_id: str,
        operations: list[dict[str, Any]],
        what: str,
        user_paths: list[tuple[str, Any]] | None,
        members: tuple[Sequence[str], Sequence[str]] | None = None,
    ) -> None:
        """PATCH `operations` (with If-Match where ETags are advertised, re-reading once on 412), or
        GET + PUT when the provider has no PATCH."""
        for attempt in (1, 2):
            try:
                if self.features.patch and self._patch_works:
                    try:
                        self._patch(model, remote_id, operations, what, fresh=attempt > 1)
                        return
                    except _NoPatch:
                        self._patch_works = False
                self._put(model, remote_id, what, user_paths, members)
                return
            except _Stale:
                if attempt == 2:
                    raise AccountRefused(
                        f"{what} was changed in the directory by someone else while Steward wrote it, twice; "
                        "the next run tries again"
                    ) from None

    def _patch(
        self, model: type[R], remote_id: str, operations: list[dict[str, Any]], what: str, *, fresh: bool
    ) -> None:
        headers = self._if_match(model, remote_id, what, fresh=fresh, missing_is_error=True) or {}
        # Validated by scim2-models against the resource's schema (a path it does not have fails here).
        patch = PatchOp[model].model_validate(  # type: ignore[valid-type]
            {"schemas": [PATCH_OP], "Operations": operations}, scim_ctx=Context.RESOURCE_PATCH_REQUEST
        )
        body = patch.model_dump(scim_ctx=Context.RESOURCE_PATCH_REQUEST)
        if self._capitalise:
            for operation in body["Operations"]:
                operation["op"] = operation["op"].capitalize()
        with self._account(what):
            result = self._scim.modify(model, remote_id, body, check_request_payload=False, headers=headers)
        self._after_write(remote_id, result)

    def _put(
        self,
        model: type[R],
        remote_id: str,
        what: str,
        user_paths: list[tuple[str, Any]] | None,
        members: tuple[Sequence[str], Sequence[str]] | None,
    ) -> None:
        """Replace the whole resource as read, changed where Steward changes it: what Steward does
        not manage (a phone number set in the directory) is sent back as it was."""
        with self._account(what):
            current = cast("Resource[Any]", self._scim.query(model, remote_id))
        self._remember(current)
        document = current.model_dump()
        for path, value in user_paths or ():
            _set_path(document, path, value)
        if members is not None:
            add, remove = members
            kept = [m for m in document.get("members") or [] if m.get("value") not in set(remove)]
            known = {m.get("value") for m in kept}
            document["members"] = kept + [{"value": v} for v in add if v not in known]
        try:
            replacement = model.model_validate(document)
        except ValidationError as exc:
            raise AccountRefused(f"{what} cannot be written back as read: {exc.errors()[0]['msg']}") from exc
        with self._account(what):
            # scim2-client sends If-Match with the version read above when the provider has ETags.
            result = self._scim.replace(model, replacement)
        self._after_write(remote_id, result)

    def _if_match(
        self, model: type[R], remote_id: str, what: str, *, fresh: bool, missing_is_error: bool = False
    ) -> dict[str, str] | None:
        """The If-Match header for a write (empty without ETags), from the version last seen or a
        fresh read; None when the resource is gone (unless that is an error for the caller)."""
        if not self.features.etag:
            return {}
        version = None if fresh else self._versions.get(remote_id)
        if version is None:
            try:
                with self._account(what):
                    current = cast("Resource[Any]", self._scim.query(model, remote_id))
            except _Gone:
                if missing_is_error:
                    raise AccountRefused(f"{what} is not in the directory") from None
                return None
            self._remember(current)
            version = self._versions.get(remote_id)
        return {"If-Match": version} if version else {}

    def _remember(self, resource: Resource[Any]) -> None:
        if resource.id and resource.meta and resource.meta.version:
            self._versions[resource.id] = resource.meta.version

    def _after_write(self, remote_id: str, result: object) -> None:
        """Keep the version a write returned, in its body or (a 204) its ETag header; without either
        Steward does not know it, and the next write reads it first."""
        if isinstance(result, Resource) and result.meta and result.meta.version:
            self._remember(result)
            return
        response = self._scim.last_response
        etag = response.headers.get("ETag") if response is not None else None
        if etag:
            self._versions[remote_id] = etag
        else:
            self._versions.pop(remote_id, None)

    # -- errors ----------------------------------------------------------------------------------

    @contextmanager
    def _target(self, doing: str) -> Iterator[None]:
        """A failure while reading the directory as a whole: nothing in this run can go on."""
        try:
            yield
        except (SCIMException, SCIMClientException) as exc:
            status, scim_type, detail = _error_of(exc)
            answer = f"answered {status}" if status else "gave an answer Steward cannot read"
            raise TargetUnavailable(f"the directory {answer} when asked to {doing}: {detail}{scim_type}") from exc

    @contextmanager
    def _account(self, what: str) -> Iterator[None]:
        """A failure about one resource: that one is refused, in words, and the run goes on."""
        try:
            yield
        except (SCIMException, SCIMClientException) as exc:
            status, scim_type, detail = _error_of(exc)
            if status == 404:
                raise _Gone(f"{what} is not in the directory") from exc
            if status == 409:
                raise _Conflict(
                    f"the directory already has an account or group with the same user name, email or "
                    f"external id as {what} ({detail}{scim_type})"
                ) from exc
            if status == 412:
                raise _Stale(f"{what} changed in the directory since Steward read it") from exc
            if status in (405, 501):
                raise _NoPatch(f"the directory does not take this change to {what}: {detail}") from exc
            if status is None:
                raise AccountRefused(f"the directory's answer about {what} could not be read: {detail}") from exc
            raise AccountRefused(f"the directory refused {what} ({status}): {detail}{scim_type}") from exc


def _error_of(exc: SCIMException | SCIMClientException) -> tuple[int | None, str, str]:
    """(HTTP status, " (scimType: …)" or "", the provider's detail) of a failed request."""
    if isinstance(exc, SCIMException):
        scim_type = f" (scimType: {exc.scim_type})" if exc.scim_type else ""
        return exc.status, scim_type, exc.detail
    source = getattr(exc, "source", None)
    status = getattr(source, "status_code", None)
    notes = "; ".join(getattr(exc, "__notes__", []))
    return (status if isinstance(status, int) else None), "", f"{exc}{': ' + notes if notes else ''}"
