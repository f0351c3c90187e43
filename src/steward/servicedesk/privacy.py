"""Privacy provider for the service desk: the tickets a school's member of staff raised, the replies
they wrote, the files they sent with them, and the history naming them. The processor's staff who
answer are Steward users too, and a support-access grant names the processor user who entered the
school's data (kept as the school's record of it).

An investigation copy is a recipient of the school's MIS data: a learner, contact or member of staff
who was in a copy when it was made (`CopiedPerson`) finds it in their access bundle (which copy, for
which ticket, who sees it, when, pseudonymised or not; how many of their rows while it is live; when
and why it was destroyed, with the proof, once it is), and their erasure deletes those rows from it
and the record that they were in it (`copies.on_subject_erased`, after the erasure commits: Art. 19).

Nothing is erased with the person ahead of the tickets themselves: a ticket is the record of what
the school asked and what the ICT service did, and it goes with its thread 90 days after it is
resolved (the service desk's retention rule); a deleted account's tickets keep only the name written
at the time.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from steward.mis.privacy import subject_row
from steward.register.providers import ErasureReport, HeldData, Subject
from steward.servicedesk import copies
from steward.servicedesk.models import (
    CopiedPerson,
    CopyStatus,
    InvestigationCopy,
    SupportGrant,
    Ticket,
    TicketAttachment,
    TicketMessage,
)

_GRANT_KEPT = "kept as the school's record of who entered its data, when and why (support access)"
_KEPT = "kept as the record of the school's request until 90 days after it is resolved (service desk retention)"


class ServiceDeskPrivacyProvider:
    app_label = "servicedesk"

    def describe(self) -> list[HeldData]:
        return [
            HeldData("servicedesk.Ticket", ("school_user",), ("school_user.account",)),
            HeldData("servicedesk.TicketMessage", ("school_user",), ("school_user.account",)),
            HeldData("servicedesk.TicketAttachment", ("school_user",), ("school_user.account",)),
            HeldData("servicedesk.TicketEvent", ("school_user",), ("school_user.account",)),
            HeldData("servicedesk.SupportGrant", ("school_user",), ("school_user.account",)),
            HeldData(
                "servicedesk.InvestigationCopy",
                ("learner", "contact", "staff"),
                ("learner.identity", "contact.identity", "staff.identity"),
            ),
            HeldData(
                "servicedesk.CopiedPerson",
                ("learner", "contact", "staff"),
                ("learner.identity", "contact.identity", "staff.identity"),
            ),
        ]

    def _in_copies(self, subject: Subject) -> list[dict[str, Any]]:
        """Every copy the person was in when it was made (`CopiedPerson`), live or destroyed: who saw it,
        for which ticket, when; a live one with their rows in it now, a destroyed one with when and why
        it went and the proof of it. A refused or pending request copied nothing, so it is not listed."""
        row = subject_row(subject)
        if row is None:
            return []
        copied = CopiedPerson.objects.filter(
            school_id=subject.school_id, record_type=row.record_type, source_id=row.source_id
        ).values("copy_id")
        found = []
        for copy in InvestigationCopy.objects.filter(school_id=subject.school_id, pk__in=copied).order_by("id"):
            entry: dict[str, Any] = {
                "copy": copy.reference,
                "ticket": copy.ticket_reference,
                "why": copy.reason,
                "seen by": copy.vendor_name or copy.get_recipient_display(),
                "made": copy.made_at,
                "pseudonymised": not copy.real_identities,
                "status": copy.get_status_display(),
            }
            if copy.status == CopyStatus.LIVE:
                entry["your rows, by record type"] = copies.person_rows(
                    copy, record_type=row.record_type, source_id=row.source_id
                )
                entry["destroyed by"] = "90 days after the ticket is resolved, or sooner"
            else:
                entry["destroyed"] = copy.destroyed_at
                entry["destroyed because"] = copy.destroyed_because
                entry["proof of destruction"] = (
                    f"Retention proof {copy.destruction_proof_id}" if copy.destruction_proof_id else ""
                )
            found.append(entry)
        return found

    def export_subject(self, subject: Subject) -> dict[str, list[dict[str, Any]]]:
        if subject.kind in ("learner", "contact", "staff"):
            in_copies = self._in_copies(subject)
            return {"servicedesk.InvestigationCopy": in_copies} if in_copies else {}
        if subject.kind != "school_user":
            return {}
        school = subject.school_id
        tickets = Ticket.objects.filter(Q(raised_by_id=subject.id) | Q(assignee_id=subject.id), school_id=school)
        messages = TicketMessage.objects.filter(author_id=subject.id, school_id=school)
        grants = SupportGrant.objects.filter(user_id=subject.id, school_id=school).order_by("id")
        files = TicketAttachment.objects.filter(uploaded_by_id=subject.id, school_id=school).order_by("id")
        return {
            "servicedesk.SupportGrant": [
                {
                    "grant": g.reference,
                    "ticket": g.ticket_reference,
                    "why": g.reason,
                    "from": g.starts_at,
                    "to": g.ended_at,
                }
                for g in grants
            ],
            "servicedesk.Ticket": [
                {
                    "reference": t.reference,
                    "summary": t.summary,
                    "raised_at": t.created_at,
                    "status": t.get_status_display(),
                    "raised_by_them": t.raised_by_id == subject.id,
                }
                for t in tickets.order_by("id")
            ],
            "servicedesk.TicketAttachment": [
                {"ticket": f"RFA-{a.ticket_id}", "file": a.file_name, "sent_at": a.uploaded_at, "status": a.status}
                for a in files
            ],
            "servicedesk.TicketMessage": [
                {"ticket": f"RFA-{m.ticket_id}", "at": m.at, "body": m.body} for m in messages.order_by("id")
            ],
        }

    def erase_subject(self, subject: Subject, *, dry_run: bool) -> ErasureReport:
        report = ErasureReport(app=self.app_label)
        if subject.kind == "school_user":
            for label in (
                "servicedesk.Ticket",
                "servicedesk.TicketMessage",
                "servicedesk.TicketEvent",
                "servicedesk.TicketAttachment",
            ):
                report.kept[label] = _KEPT
            report.kept["servicedesk.SupportGrant"] = _GRANT_KEPT
        return report

    def restrict_subject(self, subject: Subject, *, restricted: bool) -> None:
        """Tickets are only stored and answered; a restricted account cannot sign in to add to them."""
