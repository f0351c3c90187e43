"""Privacy provider for provisioning: a person's accounts in subject access, and erasure and
restriction carried to every directory (Art. 17, 18 and 19)."""

from __future__ import annotations

from typing import Any

from steward.core.events import SubjectErased
from steward.mis.privacy import subject_row
from steward.provisioning.models import PlannedChange, ProvisionedAccount
from steward.provisioning.tasks import enqueue_for_school
from steward.register.providers import ErasureReport, HeldData, Subject

_TYPES = {"learner": "learners", "staff": "staff"}


def _accounts(subject: Subject) -> tuple[str, str, Any]:
    row = subject_row(subject)
    person_type = _TYPES.get(subject.kind, "")
    if row is None or not person_type:
        return "", "", ProvisionedAccount.objects.none()
    found = ProvisionedAccount.objects.filter(
        school_id=subject.school_id, person_type=person_type, source_id=row.source_id
    ).select_related("target__flow__recipient")
    return person_type, row.source_id, found


class ProvisioningPrivacyProvider:
    app_label = "provisioning"

    def describe(self) -> list[HeldData]:
        return [
            HeldData(
                "provisioning.ProvisionedAccount", ("learner", "staff"), ("learner.identity", "learner.enrolment")
            ),
            HeldData("provisioning.PlannedChange", ("learner", "staff"), ("learner.identity", "learner.enrolment")),
            HeldData("provisioning.InitialPassword", ("learner",), ("learner.identity",)),
            HeldData("provisioning.ProvisioningRun", ("school_user",), ("school_user.account",)),
        ]

    def export_subject(self, subject: Subject) -> dict[str, list[dict[str, Any]]]:
        _, _, accounts = _accounts(subject)
        return {
            "provisioning.ProvisionedAccount": [
                {
                    "directory": a.target.flow.recipient.name,
                    "account name": a.user_name,
                    "short name": a.login,
                    "status": a.get_status_display(),
                    "groups": ", ".join(a.written.get("groups", [])),
                    "created": a.created_at,
                    "left on": a.left_on,
                }
                for a in accounts
            ]
        }

    def erase_subject(self, subject: Subject, *, dry_run: bool) -> ErasureReport:
        """The work is done by `on_subject_erased` (rights publishes SubjectErased before the
        providers erase, while the person's MIS row still names them): here, the preview's count
        and the reason the link to the accounts outlives the erasure for a few minutes."""
        report = ErasureReport(app=self.app_label)
        person_type, source_id, _ = _accounts(subject)
        if dry_run and person_type:
            report.deleted[PlannedChange._meta.label] = PlannedChange.objects.filter(
                school_id=subject.school_id, person_type=person_type, source_id=source_id
            ).count()
        report.kept[ProvisionedAccount._meta.label] = (
            "kept only until the next provisioning run has deleted the accounts from each directory, "
            "which it starts as soon as the erasure is saved (Art. 17 and Art. 19)"
        )
        return report

    def restrict_subject(self, subject: Subject, *, restricted: bool) -> None:
        """Restriction is read by the planner from mis.ProcessingRestriction: a run now suspends
        (or, when lifted, re-enables) the person's accounts."""
        person_type, _, accounts = _accounts(subject)
        if person_type and accounts.exists():
            enqueue_for_school(subject.school_id, "rights")


def on_subject_erased(event: SubjectErased) -> None:
    """Inside the erasure's transaction: forget the person's plan rows, mark their accounts for
    deletion, and run every target once the erasure commits."""
    if event.record_type not in ("learners", "staff"):
        return
    PlannedChange.objects.filter(
        school_id=event.school_id, person_type=event.record_type, source_id=event.source_id
    ).delete()
    marked = ProvisionedAccount.objects.filter(
        school_id=event.school_id, person_type=event.record_type, source_id=event.source_id
    ).update(erasure_requested=True)
    if marked:
        enqueue_for_school(event.school_id, "rights")
