"""Privacy provider for consents and agreements: Steward users' marketing preferences, and the
consents, agreements and copies that name the user who gave, signed or made them.

Marketing preferences are erased with the user. Consents, agreements and copies are kept: they
are the school's and the processor's proof that each copy of school data was lawful (Art. 5(2),
Art. 28(3)(h)); the user they name is anonymised by the tenancy provider, not unlinked.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from steward.consents.models import Consent, DataUseAgreement, MarketingPreference, PseudonymisedCopy
from steward.register.providers import ErasureReport, HeldData, Subject
from steward.tenancy.models import Membership, User
from steward.tenancy.selectors import member_elsewhere

_ACCOUNTABILITY = "kept as the record that a copy of school data was agreed by the school (Art. 5(2), Art. 28)"


class ConsentsPrivacyProvider:
    app_label = "consents"

    def describe(self) -> list[HeldData]:
        return [
            HeldData("consents.MarketingPreference", ("school_user",), ("school_user.marketing",)),
            HeldData("consents.Consent", ("school_user",), ("audit.activity",)),
            HeldData("consents.DataUseAgreement", ("school_user",), ("audit.activity",)),
            HeldData("consents.PseudonymisedCopy", ("school_user",), ("audit.activity",)),
        ]

    def export_subject(self, subject: Subject) -> dict[str, list[dict[str, Any]]]:
        if subject.kind != "school_user":
            return {}
        if not Membership.objects.filter(user_id=subject.id, organisation_id=subject.school_id).exists():
            return {}
        email = User.objects.filter(pk=subject.id).values_list("email", flat=True).first()
        return {
            # Steward's own marketing to the user is this school's to answer for only while the user
            # belongs to no other organisation (erasure deletes it only then).
            "consents.MarketingPreference": []
            if member_elsewhere(user_id=subject.id, school_id=subject.school_id)
            else [
                {"channel": p.channel, "opted_in": p.opted_in, "source": p.source, "at": p.recorded_at}
                for p in MarketingPreference.objects.filter(user_id=subject.id).order_by("recorded_at", "id")
            ],
            "consents.Consent": [
                {
                    "kind": c.kind,
                    "recipient": c.recipient,
                    "ticket": c.ticket_reference,
                    "given_at": c.given_at if c.given_by_id == subject.id else None,
                    "withdrawn_at": c.withdrawn_at if c.withdrawn_by_id == subject.id else None,
                }
                for c in Consent.objects.filter(
                    Q(given_by_id=subject.id) | Q(withdrawn_by_id=subject.id), school_id=subject.school_id
                ).order_by("id")
            ],
            "consents.DataUseAgreement": [
                {"purpose": a.purpose, "signed_at": a.signed_at, "expires_on": a.expires_on}
                for a in DataUseAgreement.objects.filter(signed_by_id=subject.id, school_id=subject.school_id).order_by(
                    "id"
                )
            ],
            "consents.PseudonymisedCopy": [
                {"schema": c.schema_name, "made_at": c.made_at}
                for c in PseudonymisedCopy.objects.filter(made_by=email, school_id=subject.school_id).order_by("id")
            ]
            if email
            else [],
        }

    def erase_subject(self, subject: Subject, *, dry_run: bool) -> ErasureReport:
        report = ErasureReport(app=self.app_label)
        if subject.kind != "school_user":
            return report
        belongs = Membership.objects.filter(user_id=subject.id, organisation_id=subject.school_id).exists()
        if belongs and not member_elsewhere(user_id=subject.id, school_id=subject.school_id):
            preferences = MarketingPreference.objects.filter(user_id=subject.id)
            report.deleted["consents.MarketingPreference"] = preferences.count()
            if not dry_run:
                preferences.delete()
        for label in ("consents.Consent", "consents.DataUseAgreement", "consents.PseudonymisedCopy"):
            report.kept[label] = _ACCOUNTABILITY
        return report

    def restrict_subject(self, subject: Subject, *, restricted: bool) -> None:
        """Nothing to change here: `send_marketing` skips inactive users, and the tenancy provider
        deactivates a restricted user who belongs to no other organisation; the records of consents
        are only stored."""
