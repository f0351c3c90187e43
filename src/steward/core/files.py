"""Where Steward keeps the files requests read and write: Django's `STORAGES`, configured here.

A web machine keeps nothing a later request needs on its own disk (DESIGN.md "Stateless web"), so two
`steward serve` machines behind one address behave as one: sessions and rate limits are in PostgreSQL,
and files go through `django.core.files.storage.storages`: the service desk's attachments `default`,
a school's contract-termination export `exports`:
- by default a folder on a disk every web machine mounts (`STEWARD_ATTACHMENT_DIR`, `var/attachments`
  on a single machine; `STEWARD_TERMINATION_DIR`, `var/terminations`): the same folders, names and
  0600 files as before, so the backup of the attachment folder and a restore keep working unchanged;
- with `STEWARD_FILE_STORAGE=s3://bucket/prefix` an S3-compatible object store (AWS S3, MinIO, Ceph;
  attachments under the prefix, exports under `prefix/exports/`),
  through django-storages and boto3: `STEWARD_S3_ENDPOINT_URL` names a store other than AWS's, and
  the credentials come the way boto3 finds them (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, an
  instance role), never from Steward's settings.
Files are never served from the store by URL: every download goes through a view that checks who
asks and audits it, so the S3 objects stay private (no ACL, no public URL).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import File
from django.core.files.storage import FileSystemStorage, Storage, storages

S3_BACKEND = "storages.backends.s3.S3Storage"
FOLDER_BACKEND = "steward.core.files.AttachmentFolder"
EXPORT_FOLDER_BACKEND = "steward.core.files.ExportFolder"


class AttachmentFolder(FileSystemStorage):
    """Files in the folder a setting names (`STEWARD_ATTACHMENT_DIR`; read at each use, so a test can
    point it elsewhere), made on the first write (0700), each file 0600 and written to a temporary
    name, flushed to disk and renamed, so a reader never sees half a file."""

    setting = "STEWARD_ATTACHMENT_DIR"

    def __init__(self, **options: Any) -> None:
        options.setdefault("file_permissions_mode", 0o600)
        options.setdefault("directory_permissions_mode", 0o700)
        self._folder = options.get("location")
        super().__init__(**options)

    @property  # type: ignore[override]
    def base_location(self) -> str:
        return str(self._folder or getattr(settings, self.setting))

    @property  # type: ignore[override]
    def location(self) -> str:
        return os.path.abspath(self.base_location)

    def _save(self, name: str, content: File[Any]) -> str:
        full_path = Path(self.path(name))
        full_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=full_path.parent, prefix=".incoming-")
        try:
            os.fchmod(handle, 0o600)
            with os.fdopen(handle, "wb") as out:
                for chunk in content.chunks():
                    out.write(chunk if isinstance(chunk, bytes) else chunk.encode())
                out.flush()
                os.fsync(out.fileno())
            if full_path.exists():  # names are random keys: a clash is a fault, never an overwrite
                raise FileExistsError(f"{name} is already stored")
            os.replace(temporary, full_path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return name


class ExportFolder(AttachmentFolder):
    """A school's contract-termination export, in `STEWARD_TERMINATION_DIR`."""

    setting = "STEWARD_TERMINATION_DIR"


def storages_setting(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """`STORAGES` for the settings: the file store `STEWARD_FILE_STORAGE` names (the attachment folder
    when unset), and the static files as Django keeps them. A value that is not `s3://bucket[/prefix]`
    is refused by name at start-up."""
    wanted = environ.get("STEWARD_FILE_STORAGE", "").strip()
    default: dict[str, Any] = {"BACKEND": FOLDER_BACKEND}
    exports: dict[str, Any] = {"BACKEND": EXPORT_FOLDER_BACKEND}
    if wanted:
        options = s3_options(wanted, environ.get("STEWARD_S3_ENDPOINT_URL", ""))
        default = {"BACKEND": S3_BACKEND, "OPTIONS": options}
        exports = {
            "BACKEND": S3_BACKEND,
            "OPTIONS": {**options, "location": "/".join(filter(None, [options["location"], "exports"]))},
        }
    return {
        "default": default,
        "exports": exports,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def s3_options(url: str, endpoint_url: str = "") -> dict[str, Any]:
    """django-storages' S3 options for `s3://bucket/prefix`: private objects, never overwritten (every
    name is a new random key), and no signed URLs handed out (downloads go through Steward's views)."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ImproperlyConfigured(f"STEWARD_FILE_STORAGE: {url!r} is not s3://bucket or s3://bucket/prefix")
    endpoint = endpoint_url.strip()
    if endpoint and urlsplit(endpoint).scheme not in ("http", "https"):
        raise ImproperlyConfigured(f"STEWARD_S3_ENDPOINT_URL: {endpoint!r} is not an http(s) URL")
    return {
        "bucket_name": parts.netloc,
        "location": parts.path.strip("/"),
        "endpoint_url": endpoint or None,
        "default_acl": None,
        "file_overwrite": False,
        "querystring_auth": True,
    }


def file_storage() -> Storage:
    """The configured file store (looked up at each call, so a changed `STORAGES` applies)."""
    return storages["default"]


def export_storage() -> Storage:
    """Where schools' termination exports are kept: `STEWARD_TERMINATION_DIR`, or `exports/` under the
    bucket's prefix."""
    return storages["exports"]
