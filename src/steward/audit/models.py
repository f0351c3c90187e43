"""The append-only, hash-chained audit log of every access to and change of personal data."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models

from steward.register.classification import NoPersonalData, PersonalData


class AuditEvent(models.Model):
    """One thing someone did. `hash` = SHA-256 over the event and the previous event's hash.

    The application role may INSERT and SELECT but not UPDATE, DELETE or TRUNCATE (granted
    per table after every migration), so history cannot be rewritten from the application;
    a change made around it (as a superuser) breaks the chain and `steward audit verify` names it.
    """

    occurred_at = models.DateTimeField()
    actor_user = models.ForeignKey(
        "tenancy.User", on_delete=models.DO_NOTHING, null=True, blank=True, db_constraint=False, related_name="+"
    )
    actor_client = models.CharField(max_length=100, blank=True, help_text="API client id, for machine actors")
    actor_label = models.CharField(max_length=200, blank=True, help_text="Who, as shown at the time")
    organisation = models.ForeignKey(
        "tenancy.Organisation",
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        db_constraint=False,
        related_name="+",
        help_text="The organisation the actor acted for",
    )
    school = models.ForeignKey(
        "tenancy.Organisation",
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        db_constraint=False,
        related_name="+",
        help_text="The school whose data was touched",
    )
    action = models.CharField(max_length=60)
    object_type = models.CharField(max_length=60, blank=True)
    object_ids = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    purpose = models.CharField(max_length=200, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    privacy = PersonalData(
        subject="school_user",
        fields={
            "actor_user": "audit.activity",
            "actor_client": "audit.activity",
            "actor_label": "audit.activity",
            "ip_address": "audit.activity",
            "user_agent": "audit.activity",
            "object_ids": "audit.activity",
            "detail": "audit.activity",
            "occurred_at": "audit.activity",
            "request_id": "audit.activity",
        },
        not_personal={"id", "organisation", "school", "action", "object_type", "purpose", "prev_hash", "hash"},
    )

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["school", "occurred_at"], name="audit_school_time"),
            models.Index(fields=["actor_user", "occurred_at"], name="audit_actor_time"),
            models.Index(fields=["object_type", "occurred_at"], name="audit_object_time"),
            # Each school's chain (and the chain of events of no school) by id: its head, its walk.
            models.Index(fields=["school", "id"], name="audit_chain_order"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action}"


class AuditAnchor(models.Model):
    """Where a prune of old events stopped: the chain is verified from here instead of from GENESIS.

    Retention deletes the oldest events (a contiguous prefix, as the database owner: the
    application role cannot delete events). The anchor keeps the last deleted event's id and hash,
    so the first remaining event must still link to it and tampering with what remains still shows.
    Written only by the owner, and append-only for the application role like the events.
    """

    pruned_through_id = models.BigIntegerField(help_text="The last (highest) event id deleted")
    anchor_hash = models.CharField(max_length=64, help_text="That event's hash: the next event's prev_hash")
    pruned_at = models.DateTimeField()
    events_pruned = models.PositiveBigIntegerField()
    chain_hashes = models.JSONField(
        default=dict,
        blank=True,
        help_text="Each chain's last pruned hash, by school id ('0': no school), cumulative over the prunes",
    )

    privacy = NoPersonalData("event ids, hashes and counts")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"events through {self.pruned_through_id} pruned at {self.pruned_at:%Y-%m-%d %H:%M}"


class AuditChainSplit(models.Model):
    """Where the one chain of every event became one chain per school (and one of events of no school).

    Written once, by the migration that split it: events up to `last_single_id` form the single
    chain as they were written; every later event links to the newest earlier event of its own
    school, and the first of each school's chain to `last_single_hash` (GENESIS on a log that was
    empty then). Append-only for the application role like the events.
    """

    last_single_id = models.BigIntegerField(help_text="The last event id of the single chain (0: none)")
    last_single_hash = models.CharField(max_length=64, help_text="Its hash: where every school's chain starts")

    privacy = NoPersonalData("an event id and its hash")

    def __str__(self) -> str:
        return f"one chain per school after event {self.last_single_id}"
