"""The school data model, named after the SIF UK / CTF vocabulary.

Every personal-data field is classified next to its model (`privacy`). Code-valued columns
name the shipped code set they are checked against (`code_sets`); references between records
name the record type they point to (`references`).
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from steward.mis.base import MisRecord, NextChangeVersion, school_without_constraint
from steward.mis.names import display_name
from steward.register.classification import NoPersonalData, PersonalData
from steward.tenancy.models import TenantModel

_SYS = MisRecord.SYSTEM_FIELDS


class SchoolDetails(MisRecord):
    record_type = "school-details"
    formats = {"postcode": "postcode"}
    name = models.CharField(max_length=200)
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    town = models.CharField(max_length=100, blank=True)
    postcode = models.CharField(max_length=10, blank=True)
    head_teacher = models.CharField(max_length=150, blank=True)
    email = models.EmailField(blank=True)
    website = models.URLField(blank=True)
    phone = models.CharField(max_length=30, blank=True)

    privacy = PersonalData(
        subject="staff",
        fields={"head_teacher": "staff.work_contact"},
        not_personal=_SYS | {"name", "address_line1", "address_line2", "town", "postcode", "email", "website", "phone"},
    )

    class Meta(MisRecord.Meta):
        verbose_name_plural = "school details"


class Learner(MisRecord):
    record_type = "learners"
    code_sets = {"gender": "gender", "ethnicity": "ethnicity", "first_language": "language", "religion": "religion"}
    formats = {"upn": "upn", "former_upn": "upn", "postcode": "postcode"}
    date_windows = {"date_of_birth": (30, 0)}

    upn = models.CharField("UPN", max_length=13, blank=True)
    former_upn = models.CharField("former UPN", max_length=13, blank=True)
    legal_forename = models.CharField(max_length=100)
    middle_names = models.CharField(max_length=100, blank=True)
    legal_surname = models.CharField(max_length=100)
    preferred_forename = models.CharField(max_length=100, blank=True)
    preferred_surname = models.CharField(max_length=100, blank=True)
    date_of_birth = models.DateField()
    gender = models.CharField(max_length=1)
    ethnicity = models.CharField(max_length=4, blank=True)
    religion = models.CharField(max_length=4, blank=True)
    first_language = models.CharField(max_length=4, blank=True)
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    town = models.CharField(max_length=100, blank=True)
    postcode = models.CharField(max_length=10, blank=True)
    phone = models.CharField(max_length=30, blank=True)
    email = models.EmailField(blank=True)
    photo = models.BinaryField(null=True, blank=True, help_text="JPEG")

    privacy = PersonalData(
        subject="learner",
        fields={
            **dict.fromkeys(
                [
                    "upn",
                    "former_upn",
                    "legal_forename",
                    "middle_names",
                    "legal_surname",
                    "preferred_forename",
                    "preferred_surname",
                    "date_of_birth",
                    "gender",
                ],
                "learner.identity",
            ),
            **dict.fromkeys(
                ["address_line1", "address_line2", "town", "postcode", "phone", "email"], "learner.contact_details"
            ),
            "ethnicity": "learner.special.ethnicity",
            "religion": "learner.special.religion",
            "first_language": "learner.characteristics",
            "photo": "learner.photo",
        },
        not_personal=_SYS,
    )

    class Meta(MisRecord.Meta):
        pass

    @property
    def display_name(self) -> str:
        """The name the learner is known by (`mis.names.display_name`), for templates."""
        return display_name(self)


class Contact(MisRecord):
    record_type = "contacts"
    code_sets = {"gender": "gender"}
    formats = {"postcode": "postcode"}

    title = models.CharField(max_length=20, blank=True)
    forename = models.CharField(max_length=100)
    surname = models.CharField(max_length=100)
    gender = models.CharField(max_length=1, blank=True)
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    town = models.CharField(max_length=100, blank=True)
    postcode = models.CharField(max_length=10, blank=True)
    email = models.EmailField(blank=True)
    email_alternative = models.EmailField(blank=True)
    phone_home = models.CharField(max_length=30, blank=True)
    phone_mobile = models.CharField(max_length=30, blank=True)
    phone_work = models.CharField(max_length=30, blank=True)

    privacy = PersonalData(
        subject="contact",
        fields={
            **dict.fromkeys(["title", "forename", "surname", "gender"], "contact.identity"),
            **dict.fromkeys(
                [
                    "address_line1",
                    "address_line2",
                    "town",
                    "postcode",
                    "email",
                    "email_alternative",
                    "phone_home",
                    "phone_mobile",
                    "phone_work",
                ],
                "contact.contact_details",
            ),
        },
        not_personal=_SYS,
    )

    class Meta(MisRecord.Meta):
        pass


class LearnerContact(MisRecord):
    record_type = "learner-contacts"
    code_sets = {"relationship": "relationship"}
    references = {"learner_source_id": "learners", "contact_source_id": "contacts"}

    learner_source_id = models.CharField(max_length=100)
    contact_source_id = models.CharField(max_length=100)
    relationship = models.CharField(max_length=3)
    parental_responsibility = models.BooleanField()
    priority = models.PositiveSmallIntegerField(default=1)
    lives_with = models.BooleanField(default=False)

    privacy = PersonalData(
        subject="contact",
        fields={
            "learner_source_id": "contact.relationship",
            "contact_source_id": "contact.relationship",
            "relationship": "contact.relationship",
            "parental_responsibility": "contact.relationship",
            "priority": "contact.relationship",
            "lives_with": "contact.relationship",
        },
        not_personal=_SYS,
    )

    class Meta(MisRecord.Meta):
        indexes = [
            *MisRecord.Meta.indexes,
            models.Index(fields=["school", "learner_source_id"], name="mis_learnercontact_learner"),
            models.Index(fields=["school", "contact_source_id"], name="mis_learnercontact_contact"),
        ]


class Staff(MisRecord):
    record_type = "staff"
    code_sets = {"gender": "gender"}
    formats = {"ni_number": "ni_number", "teacher_number": "teacher_number"}
    date_windows = {"date_of_birth": (100, 0)}

    title = models.CharField(max_length=20, blank=True)
    forename = models.CharField(max_length=100)
    surname = models.CharField(max_length=100)
    preferred_forename = models.CharField(max_length=100, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    gender = models.CharField(max_length=1, blank=True)
    ni_number = models.CharField("NI number", max_length=9, blank=True)
    teacher_number = models.CharField("teacher reference number", max_length=7, blank=True)
    email = models.EmailField(blank=True)

    privacy = PersonalData(
        subject="staff",
        fields={
            **dict.fromkeys(
                ["title", "forename", "surname", "preferred_forename", "date_of_birth", "gender"], "staff.identity"
            ),
            "ni_number": "staff.employment",
            "teacher_number": "staff.employment",
            "email": "staff.work_contact",
        },
        not_personal=_SYS,
    )

    class Meta(MisRecord.Meta):
        verbose_name_plural = "staff"


class StaffAssignment(MisRecord):
    record_type = "staff-assignments"
    references = {"staff_source_id": "staff"}

    staff_source_id = models.CharField(max_length=100)
    role = models.CharField(max_length=100)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)

    privacy = PersonalData(
        subject="staff",
        fields=dict.fromkeys(["staff_source_id", "role", "start_date", "end_date"], "staff.assignment"),
        not_personal=_SYS,
    )

    class Meta(MisRecord.Meta):
        pass


class StaffContract(MisRecord):
    record_type = "staff-contracts"
    code_sets = {"contract_type": "contract_type"}
    references = {"staff_source_id": "staff"}

    staff_source_id = models.CharField(max_length=100)
    contract_type = models.CharField(max_length=4)
    post = models.CharField(max_length=100)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    fte = models.DecimalField("full-time equivalent", max_digits=4, decimal_places=3)

    privacy = PersonalData(
        subject="staff",
        fields=dict.fromkeys(
            ["staff_source_id", "contract_type", "post", "start_date", "end_date", "fte"], "staff.employment"
        ),
        not_personal=_SYS,
    )

    class Meta(MisRecord.Meta):
        pass


class SchoolGroup(MisRecord):
    record_type = "groups"
    code_sets = {"group_type": "group_type"}

    name = models.CharField(max_length=100)
    code = models.CharField(max_length=30, blank=True)
    group_type = models.CharField(max_length=12)
    subject = models.CharField(max_length=100, blank=True)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)

    privacy = NoPersonalData("group names, codes and types; membership is in GroupEnrolment")

    class Meta(MisRecord.Meta):
        pass


class GroupEnrolment(MisRecord):
    record_type = "group-enrolments"
    references = {"group_source_id": "groups", "learner_source_id": "learners"}

    group_source_id = models.CharField(max_length=100)
    learner_source_id = models.CharField(max_length=100)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)

    privacy = PersonalData(
        subject="learner",
        fields=dict.fromkeys(["group_source_id", "learner_source_id", "start_date", "end_date"], "learner.groups"),
        not_personal=_SYS,
    )

    class Meta(MisRecord.Meta):
        indexes = [
            *MisRecord.Meta.indexes,
            models.Index(fields=["school", "learner_source_id"], name="mis_groupenrolment_learner"),
        ]


class SchoolEnrolment(MisRecord):
    record_type = "school-enrolments"
    code_sets = {"enrolment_status": "enrolment_status"}
    references = {"learner_source_id": "learners"}

    learner_source_id = models.CharField(max_length=100)
    entry_date = models.DateField()
    leaving_date = models.DateField(null=True, blank=True)
    enrolment_status = models.CharField(max_length=1)
    year_group = models.CharField(max_length=3, blank=True)

    privacy = PersonalData(
        subject="learner",
        fields=dict.fromkeys(
            ["learner_source_id", "entry_date", "leaving_date", "enrolment_status", "year_group"], "learner.enrolment"
        ),
        not_personal=_SYS,
    )

    class Meta(MisRecord.Meta):
        indexes = [
            *MisRecord.Meta.indexes,
            models.Index(fields=["school", "learner_source_id"], name="mis_schoolenrolment_learner"),
        ]


class SessionAttendance(MisRecord):
    record_type = "session-attendance"
    code_sets = {"session": "session", "mark": "attendance_mark"}
    references = {"learner_source_id": "learners"}
    date_windows = {"date": (30, 1)}

    learner_source_id = models.CharField(max_length=100)
    date = models.DateField()
    session = models.CharField(max_length=2)
    mark = models.CharField(max_length=2)
    minutes_late = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.CharField(max_length=500, blank=True)

    privacy = PersonalData(
        subject="learner",
        fields=dict.fromkeys(
            ["learner_source_id", "date", "session", "mark", "minutes_late", "comment"], "learner.attendance"
        ),
        not_personal=_SYS,
    )

    class Meta(MisRecord.Meta):
        indexes = [
            *MisRecord.Meta.indexes,
            models.Index(fields=["school", "learner_source_id", "date"], name="mis_sessionatt_learner"),
        ]


class LessonAttendance(MisRecord):
    record_type = "lesson-attendance"
    code_sets = {"mark": "attendance_mark"}
    references = {"learner_source_id": "learners", "group_source_id": "groups"}
    date_windows = {"lesson_date": (30, 1)}

    learner_source_id = models.CharField(max_length=100)
    group_source_id = models.CharField(max_length=100)
    lesson_date = models.DateField()
    start_time = models.TimeField()
    end_time = models.TimeField()
    mark = models.CharField(max_length=2)
    minutes_late = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.CharField(max_length=500, blank=True)

    privacy = PersonalData(
        subject="learner",
        fields=dict.fromkeys(
            [
                "learner_source_id",
                "group_source_id",
                "lesson_date",
                "start_time",
                "end_time",
                "mark",
                "minutes_late",
                "comment",
            ],
            "learner.lesson_attendance",
        ),
        not_personal=_SYS,
    )

    class Meta(MisRecord.Meta):
        indexes = [
            *MisRecord.Meta.indexes,
            models.Index(fields=["school", "learner_source_id", "lesson_date"], name="mis_lessonatt_learner"),
        ]


class Exclusion(MisRecord):
    record_type = "exclusions"
    code_sets = {"exclusion_type": "exclusion_type", "category": "exclusion_reason"}
    references = {"learner_source_id": "learners"}

    learner_source_id = models.CharField(max_length=100)
    exclusion_type = models.CharField(max_length=4)
    category = models.CharField(max_length=4)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    sessions = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)

    privacy = PersonalData(
        subject="learner",
        fields=dict.fromkeys(
            ["learner_source_id", "exclusion_type", "category", "start_date", "end_date", "sessions"],
            "learner.exclusion",
        ),
        not_personal=_SYS,
    )

    class Meta(MisRecord.Meta):
        pass


class SpecialNeeds(MisRecord):
    record_type = "special-needs"
    code_sets = {"provision": "sen_provision", "need_types": "sen_need"}
    references = {"learner_source_id": "learners"}

    learner_source_id = models.CharField(max_length=100)
    provision = models.CharField(max_length=1)
    need_types = ArrayField(models.CharField(max_length=4), default=list, blank=True)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)

    privacy = PersonalData(
        subject="learner",
        fields=dict.fromkeys(
            ["learner_source_id", "provision", "need_types", "start_date", "end_date"], "learner.special.sen"
        ),
        not_personal=_SYS,
    )

    class Meta(MisRecord.Meta):
        verbose_name_plural = "special needs"


class Entitlement(MisRecord):
    record_type = "entitlements"
    code_sets = {"entitlement_type": "entitlement_type"}
    references = {"learner_source_id": "learners"}

    learner_source_id = models.CharField(max_length=100)
    entitlement_type = models.CharField(max_length=4)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)

    privacy = PersonalData(
        subject="learner",
        fields=dict.fromkeys(
            ["learner_source_id", "entitlement_type", "start_date", "end_date"], "learner.entitlement"
        ),
        not_personal=_SYS,
    )

    class Meta(MisRecord.Meta):
        pass


class Behaviour(MisRecord):
    record_type = "behaviours"
    references = {"learner_source_id": "learners"}

    learner_source_id = models.CharField(max_length=100)
    behaviour_type = models.CharField(max_length=100)
    activity_type = models.CharField(max_length=100, blank=True)
    location = models.CharField(max_length=100, blank=True)
    role = models.CharField(max_length=50, blank=True)
    points = models.SmallIntegerField(default=0)
    comments = models.TextField(blank=True)
    event_date = models.DateField()

    privacy = PersonalData(
        subject="learner",
        fields=dict.fromkeys(
            [
                "learner_source_id",
                "behaviour_type",
                "activity_type",
                "location",
                "role",
                "points",
                "comments",
                "event_date",
            ],
            "learner.behaviour",
        ),
        not_personal=_SYS,
    )

    class Meta(MisRecord.Meta):
        indexes = [
            *MisRecord.Meta.indexes,
            models.Index(fields=["school", "learner_source_id", "event_date"], name="mis_behaviour_learner"),
        ]


class Achievement(MisRecord):
    record_type = "achievements"
    references = {"learner_source_id": "learners"}

    learner_source_id = models.CharField(max_length=100)
    achievement_type = models.CharField(max_length=100)
    activity_type = models.CharField(max_length=100, blank=True)
    points = models.SmallIntegerField(default=0)
    comments = models.TextField(blank=True)
    event_date = models.DateField()

    privacy = PersonalData(
        subject="learner",
        fields=dict.fromkeys(
            ["learner_source_id", "achievement_type", "activity_type", "points", "comments", "event_date"],
            "learner.achievement",
        ),
        not_personal=_SYS,
    )

    class Meta(MisRecord.Meta):
        indexes = [
            *MisRecord.Meta.indexes,
            models.Index(fields=["school", "learner_source_id", "event_date"], name="mis_achievement_learner"),
        ]


class Homework(MisRecord):
    record_type = "homework"
    references = {"group_source_id": "groups"}
    free_text = frozenset({"title"})  # "Write to Amira about her trip" names a pupil

    group_source_id = models.CharField(max_length=100)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    subject = models.CharField(max_length=100, blank=True)
    set_date = models.DateField()
    due_date = models.DateField()

    privacy = PersonalData(
        subject="learner",
        fields=dict.fromkeys(
            ["group_source_id", "title", "description", "subject", "set_date", "due_date"], "learner.homework"
        ),
        not_personal=_SYS,
    )

    class Meta(MisRecord.Meta):
        verbose_name_plural = "homework"
        indexes = [
            *MisRecord.Meta.indexes,
            models.Index(fields=["school", "group_source_id"], name="mis_homework_group"),
        ]


class DiaryEvent(MisRecord):
    record_type = "diary-events"

    description = models.CharField(max_length=500)
    category = models.CharField(max_length=100, blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)

    privacy = PersonalData(
        subject="learner",
        fields=dict.fromkeys(["description", "category", "starts_at", "ends_at"], "school.diary"),
        not_personal=_SYS,
    )

    class Meta(MisRecord.Meta):
        pass


class Tombstone(TenantModel):
    """A record the MIS deleted, kept so that subscribers can delete it too."""

    school = school_without_constraint()  # written in bulk, like the records (see `MisRecord`)
    record_type = models.CharField(max_length=30)
    source_id = models.CharField(max_length=100)
    change_version = models.BigIntegerField(db_default=NextChangeVersion())
    deleted_at = models.DateTimeField(default=timezone.now)

    privacy = NoPersonalData("the MIS's opaque ids of deleted records")

    class Meta:
        indexes = [models.Index(fields=["school", "change_version"], name="mis_tombstone_ver")]


class CodeValue(models.Model):
    """A value of a shipped code set (DfE ethnicity, attendance marks, SEN provision, ...)."""

    code_set = models.CharField(max_length=30)
    code = models.CharField(max_length=20)
    description = models.CharField(max_length=200)

    privacy = NoPersonalData("reference data")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["code_set", "code"], name="mis_codevalue_unique")]

    def __str__(self) -> str:
        return f"{self.code_set}:{self.code} {self.description}"


RECORD_MODELS: tuple[type[MisRecord], ...] = (
    SchoolDetails,
    Learner,
    Contact,
    LearnerContact,
    Staff,
    StaffAssignment,
    StaffContract,
    SchoolGroup,
    GroupEnrolment,
    SchoolEnrolment,
    SessionAttendance,
    LessonAttendance,
    Exclusion,
    SpecialNeeds,
    Entitlement,
    Behaviour,
    Achievement,
    Homework,
    DiaryEvent,
)
MODEL_BY_TYPE: dict[str, type[MisRecord]] = {m.record_type: m for m in RECORD_MODELS}


class ProcessingRestriction(TenantModel):
    """A subject whose processing is restricted (Art. 18): stored, but never released or shown."""

    record_type = models.CharField(max_length=30, help_text="learners, contacts or staff")
    source_id = models.CharField(max_length=100)
    restricted_at = models.DateTimeField(default=timezone.now)

    privacy = PersonalData(
        subject="learner",
        fields={"source_id": "learner.identity", "restricted_at": "learner.identity"},
        not_personal={"id", "school", "record_type"},
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["school", "record_type", "source_id"], name="mis_restriction_unique")
        ]
