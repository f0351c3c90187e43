"""The register's content for the five services, loaded by a data migration.

The processing register (UK GDPR Art. 30) is only true if its rows describe what Steward really
does. Keeping that content here, as plain reviewed data, means a change to what a service processes
is a code change a DPO can read in one place, and the migration that loads it (`sync_catalogue`)
can be re-run safely whenever the content changes. Nothing here imports Django: the data can be
checked without a database, and the sync function works with a migration's historical models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SubjectTypeDef:
    code: str
    name: str
    description: str


@dataclass(frozen=True)
class CategoryDef:
    code: str
    name: str
    description: str
    subject_type: str
    special_category: bool = False


@dataclass(frozen=True)
class PlaceDef:
    code: str
    name: str
    country: str
    description: str


@dataclass(frozen=True)
class RecipientDef:
    code: str
    name: str
    kind: str
    description: str
    country: str
    transfer_safeguard: str = ""


@dataclass(frozen=True)
class RetentionDef:
    trigger: str
    period_days: int
    description: str
    category: str | None = None


@dataclass(frozen=True)
class ActivityDef:
    service: str
    name: str
    description: str
    purposes: tuple[str, ...]
    lawful_bases: tuple[str, ...]
    lawful_basis_explanation: str
    categories: tuple[str, ...]
    subject_types: tuple[str, ...]
    recipients: tuple[str, ...]
    places: tuple[str, ...]
    retention: tuple[RetentionDef, ...]
    security_measures: tuple[str, ...]
    special_conditions: tuple[str, ...] = ()
    special_condition_explanation: str = ""


# ---------------------------------------------------------------------------------------------
# Data subjects
# ---------------------------------------------------------------------------------------------

SUBJECT_TYPES: tuple[SubjectTypeDef, ...] = (
    SubjectTypeDef(
        code="learner",
        name="Learners",
        description="Pupils on the school's roll, and former pupils whose records the school still keeps.",
    ),
    SubjectTypeDef(
        code="contact",
        name="Parents and carers",
        description=(
            "Parents and carers with parental responsibility for a learner, and other contacts the school "
            "records for a learner, such as emergency contacts."
        ),
    ),
    SubjectTypeDef(
        code="staff",
        name="School staff",
        description=(
            "People employed or engaged by the school, including teachers, support staff and supply staff, "
            "and the staff the school names as its contacts for the ICT service, such as its data protection "
            "officer."
        ),
    ),
    SubjectTypeDef(
        code="school_user",
        name="Steward users",
        description=(
            "People who sign in to Steward: the ICT service's own staff, and school administrators and data "
            "protection officers given access by their school."
        ),
    ),
    SubjectTypeDef(
        code="parent_user",
        name="Parent portal users",
        description="Parents and carers who hold an account on the parent portal.",
    ),
)


# ---------------------------------------------------------------------------------------------
# Data categories
# ---------------------------------------------------------------------------------------------

CATEGORIES: tuple[CategoryDef, ...] = (
    # Learners
    CategoryDef(
        code="learner.identity",
        name="Learner identity",
        description=(
            "Legal and preferred names, unique pupil number (UPN), unique learner number, date of birth, gender "
            "and the school's admission number."
        ),
        subject_type="learner",
    ),
    CategoryDef(
        code="learner.contact_details",
        name="Learner contact details",
        description=(
            "Home address, and the learner's own telephone number and email address where the school holds them."
        ),
        subject_type="learner",
    ),
    CategoryDef(
        code="learner.characteristics",
        name="Learner characteristics",
        description=(
            "First language, proficiency in English, nationality, country of birth and whether the learner is a "
            "service child, as the school records them for teaching support and the school census."
        ),
        subject_type="learner",
    ),
    CategoryDef(
        code="learner.photo",
        name="Learner photograph",
        description=(
            "A photograph of the learner, used on their record and on registers so that staff can identify them."
        ),
        subject_type="learner",
    ),
    CategoryDef(
        code="learner.special.ethnicity",
        name="Learner ethnicity",
        description=(
            "Ethnic group as given by the learner or their parent for the school census, including 'information "
            "refused'. Special category data (Art. 9)."
        ),
        subject_type="learner",
        special_category=True,
    ),
    CategoryDef(
        code="learner.special.religion",
        name="Learner religion or belief",
        description=(
            "Religion or belief, where the school records it, for example to arrange withdrawal from religious "
            "education or collective worship. Special category data (Art. 9)."
        ),
        subject_type="learner",
        special_category=True,
    ),
    CategoryDef(
        code="learner.special.sen",
        name="Special educational needs",
        description=(
            "Special educational needs status (SEN support or education, health and care plan), type of need, "
            "the provision made and reviews of it. Much of it describes the learner's health or disability, so "
            "it is treated as special category data (Art. 9)."
        ),
        subject_type="learner",
        special_category=True,
    ),
    CategoryDef(
        code="learner.special.medical",
        name="Medical information",
        description=(
            "Medical conditions, allergies, medication, dietary needs on medical grounds, individual healthcare "
            "plans and the learner's doctor. Special category data (Art. 9)."
        ),
        subject_type="learner",
        special_category=True,
    ),
    CategoryDef(
        code="learner.entitlement",
        name="Funding entitlements",
        description=(
            "Free school meals eligibility and history, pupil premium and service premium. Not special category "
            "data, but it reveals a family's income, so it is shown only to staff who need it."
        ),
        subject_type="learner",
    ),
    CategoryDef(
        code="learner.enrolment",
        name="Enrolment",
        description=(
            "Admission register entries: date of admission and leaving, enrolment status, year group, previous "
            "school, and the reason for leaving and destination when the learner leaves."
        ),
        subject_type="learner",
    ),
    CategoryDef(
        code="learner.groups",
        name="Groups and classes",
        description="Registration group, teaching groups, timetabled classes and house.",
        subject_type="learner",
    ),
    CategoryDef(
        code="learner.attendance",
        name="Session attendance",
        description=(
            "The attendance register: a mark for each morning and afternoon session, with attendance and absence "
            "codes, reasons for absence and late arrivals."
        ),
        subject_type="learner",
    ),
    CategoryDef(
        code="learner.lesson_attendance",
        name="Lesson attendance",
        description="Attendance and punctuality marks for individual lessons, recorded by the teacher.",
        subject_type="learner",
    ),
    CategoryDef(
        code="learner.exclusion",
        name="Suspensions and exclusions",
        description=(
            "Suspensions and permanent exclusions: dates, number of sessions, reason category, and the outcome of "
            "any governors' or independent review."
        ),
        subject_type="learner",
    ),
    CategoryDef(
        code="learner.behaviour",
        name="Behaviour",
        description="Behaviour incidents, the actions taken (such as detentions) and behaviour points.",
        subject_type="learner",
    ),
    CategoryDef(
        code="learner.achievement",
        name="Assessment and achievement",
        description=(
            "Assessment marks and grades, teacher assessments, examination entries and results, and achievement "
            "points and awards."
        ),
        subject_type="learner",
    ),
    CategoryDef(
        code="learner.homework",
        name="Homework",
        description="Homework set for the learner, due dates, whether it was handed in, and the teacher's feedback.",
        subject_type="learner",
    ),
    CategoryDef(
        code="school.diary",
        name="School diary",
        description=(
            "School diary events — trips, clubs, appointments, parents' evenings and other calendar entries — "
            "with the learners and groups they involve."
        ),
        subject_type="learner",
    ),
    # Parents and carers
    CategoryDef(
        code="contact.identity",
        name="Parent or carer identity",
        description="Title, forename and surname of a parent, carer or other contact.",
        subject_type="contact",
    ),
    CategoryDef(
        code="contact.contact_details",
        name="Parent or carer contact details",
        description="Address, telephone numbers, email address, and preferred language and method of contact.",
        subject_type="contact",
    ),
    CategoryDef(
        code="contact.relationship",
        name="Relationship to the learner",
        description=(
            "Relationship to the learner, whether the contact has parental responsibility, the order in which "
            "the school contacts them, whether the learner lives with them, and any restriction the school must "
            "observe, such as a court order limiting contact."
        ),
        subject_type="contact",
    ),
    # Staff
    CategoryDef(
        code="staff.identity",
        name="Staff identity",
        description="Title, legal and preferred names, staff code, date of birth and gender.",
        subject_type="staff",
    ),
    CategoryDef(
        code="staff.employment",
        name="Employment details",
        description=(
            "National Insurance number, teacher reference number, post, contract type, start and end dates, "
            "working pattern, and the pay and qualification details collected by the school workforce census."
        ),
        subject_type="staff",
    ),
    CategoryDef(
        code="staff.assignment",
        name="Teaching and duties",
        description="Classes and groups taught, responsibilities such as form tutor or SENCO, and the staff timetable.",
        subject_type="staff",
    ),
    CategoryDef(
        code="staff.special.ethnicity",
        name="Staff ethnicity",
        description=(
            "Ethnic group as given by the member of staff for the school workforce census, including 'information "
            "refused'. Special category data (Art. 9)."
        ),
        subject_type="staff",
        special_category=True,
    ),
    CategoryDef(
        code="staff.work_contact",
        name="Staff work contact details",
        description=(
            "Name, work email address and work telephone number of school staff, including the contacts the "
            "school names to the ICT service, such as its data protection officer."
        ),
        subject_type="staff",
    ),
    # People who sign in to Steward
    CategoryDef(
        code="school_user.account",
        name="Steward account",
        description=(
            "Name, email address, password (stored only as a salted hash), date joined and whether the account "
            "is active."
        ),
        subject_type="school_user",
    ),
    CategoryDef(
        code="school_user.sign_in",
        name="Sign-in records",
        description=(
            "Last sign-in time, session data, and records of sign-in attempts (username, IP address, browser "
            "details) kept to detect and block password guessing."
        ),
        subject_type="school_user",
    ),
    CategoryDef(
        code="school_user.authenticator",
        name="Two-factor authenticator",
        description="The authenticator app registered for two-factor sign-in: its name and secret key.",
        subject_type="school_user",
    ),
    CategoryDef(
        code="school_user.role",
        name="Organisation and role",
        description="Which organisations the user belongs to, their role in each, and when it was granted.",
        subject_type="school_user",
    ),
    CategoryDef(
        code="school_user.marketing",
        name="Marketing preferences",
        description=(
            "Whether the user wants news and offers from the ICT service, for each channel, and when and how "
            "they chose. The ICT service decides this itself, as controller of its own mailing list; no school "
            "data is used for it."
        ),
        subject_type="school_user",
    ),
    CategoryDef(
        code="audit.activity",
        name="Audit log",
        description=(
            "A record of each action taken in Steward: who took it, when, from which IP address and browser, "
            "and the identifiers of the records involved."
        ),
        subject_type="school_user",
    ),
    # Parent portal users
    CategoryDef(
        code="parent_user.account",
        name="Parent portal account",
        description=(
            "Email address, name, password (stored only as a salted hash), sign-in times, and the learners the "
            "school has linked the account to."
        ),
        subject_type="parent_user",
    ),
    CategoryDef(
        code="parent_user.sign_in",
        name="Parent portal sessions",
        description=(
            "For each session: when it started and was last used, the IP address with the country and network "
            "it belongs to, and the browser and device, kept so the parent can see and end their sessions and "
            "be told of a sign-in from a new device or country."
        ),
        subject_type="parent_user",
    ),
    CategoryDef(
        code="parent_user.preferences",
        name="Parent portal preferences",
        description="Which notifications the parent wants, how they receive them, and their preferred language.",
        subject_type="parent_user",
    ),
    CategoryDef(
        code="parent_user.consent",
        name="Consent decisions",
        description=(
            "Consents the school asks for through the portal, such as for the use of photographs or for a trip: "
            "the decision, when it was given or withdrawn, and the wording the parent saw."
        ),
        subject_type="parent_user",
    ),
)


# ---------------------------------------------------------------------------------------------
# Places of processing
# ---------------------------------------------------------------------------------------------

PLACES: tuple[PlaceDef, ...] = (
    PlaceDef(
        code="uk-datacentre",
        name="ICT service data centre",
        country="GB",
        description=(
            "The ICT service's own data centre in the UK, where Steward's application and database servers run. "
            "Physical access is restricted to named staff and logged."
        ),
    ),
    PlaceDef(
        code="uk-cloud",
        name="Microsoft Azure UK South",
        country="GB",
        description=(
            "The UK South (London) region of Microsoft Azure, used for the connection to schools' Microsoft 365 "
            "tenancies. Data stays in the UK region."
        ),
    ),
    PlaceDef(
        code="uk-backup",
        name="Off-site backup vault",
        country="GB",
        description=(
            "Encrypted backups held by the off-site backup provider in a UK facility separate from the data "
            "centre, so that data can be restored after a disaster."
        ),
    ),
)


# ---------------------------------------------------------------------------------------------
# Recipients
# ---------------------------------------------------------------------------------------------

RECIPIENTS: tuple[RecipientDef, ...] = (
    # Local-authority services
    RecipientDef(
        code="la-attendance",
        name="Attendance and enforcement service",
        kind="la_service",
        country="GB",
        description=(
            "The local authority's attendance support and enforcement team. Receives session attendance, absence "
            "reasons and parents' contact details for learners whose attendance the school or the authority is "
            "concerned about, to offer support and, where needed, to consider a parenting contract, penalty "
            "notice or prosecution."
        ),
    ),
    RecipientDef(
        code="la-cme",
        name="Children missing education",
        kind="la_service",
        country="GB",
        description=(
            "The local authority's children missing education team. Receives the notices a school must send when "
            "a learner is added to or removed from the admission register, and about learners absent without "
            "authorisation for a long period: names, address, parents' details and known destination, so the "
            "authority can check the child is receiving education."
        ),
    ),
    RecipientDef(
        code="la-admissions",
        name="School admissions",
        kind="la_service",
        country="GB",
        description=(
            "The local authority's admissions team. Receives admission and leaving dates and year groups of "
            "learners joining or leaving during the year, to coordinate in-year admissions and plan school places."
        ),
    ),
    RecipientDef(
        code="la-youth-justice",
        name="Youth justice service",
        kind="la_service",
        country="GB",
        description=(
            "The local authority's youth justice service. Receives attendance, exclusion, behaviour and "
            "achievement information for a learner it is working with, when it asks, so that the learner's plan "
            "supports their education."
        ),
    ),
    RecipientDef(
        code="la-specialist-teaching",
        name="Specialist teaching service",
        kind="la_service",
        country="GB",
        description=(
            "The local authority's specialist teaching service (for example for sensory impairment or autism). "
            "Receives identity, class, special educational needs and relevant medical information for learners "
            "the school refers, to assess them and advise the school."
        ),
    ),
    RecipientDef(
        code="network-directory",
        name="School network accounts (Active Directory)",
        kind="la_service",
        country="GB",
        description=(
            "The Active Directory domain the ICT service runs for the school's network and devices. Receives "
            "learner and staff names, year and registration groups and staff roles, so that everyone can sign in "
            "to the school's computers and leavers cannot."
        ),
    ),
    # Suppliers and sub-processors
    RecipientDef(
        code="microsoft-365",
        name="Microsoft 365",
        kind="supplier",
        country="GB",
        description=(
            "The school's Microsoft 365 tenancy, with UK data residency. Receives learner and staff names, work "
            "email addresses and class memberships, so that accounts and class teams exist for teaching."
        ),
    ),
    RecipientDef(
        code="backup-provider",
        name="Off-site backup provider",
        kind="sub_processor",
        country="GB",
        description=(
            "Stores encrypted copies of Steward's databases in the UK. The encryption keys stay with the ICT "
            "service, so the provider cannot read the data; it only keeps it safe and returns it for a restore."
        ),
    ),
    RecipientDef(
        code="safeguarding-monitor",
        name="Safeguarding monitoring service",
        kind="supplier",
        country="GB",
        description=(
            "The web filtering and monitoring service a school uses to meet Keeping Children Safe in Education. "
            "Receives learner names, year and registration groups, so that an alert names the right learner to "
            "the school's designated safeguarding lead."
        ),
    ),
    RecipientDef(
        code="learning-app",
        name="Maths learning app",
        kind="supplier",
        country="GB",
        description=(
            "An online maths practice app the school subscribes to. Receives learner names, year and teaching "
            "groups, and teachers' names and work email addresses, to create class accounts; it records the "
            "learners' work for their teachers."
        ),
    ),
    RecipientDef(
        code="overseas-learning-app",
        name="Overseas learning app",
        kind="supplier",
        country="US",
        description=(
            "A learning app that processes data in the United States. No transfer safeguard (such as the UK "
            "International Data Transfer Agreement or the UK extension to the EU-US Data Privacy Framework) is "
            "recorded, so Steward sends it nothing until one is."
        ),
    ),
    RecipientDef(
        code="mis-vendor-desk",
        name="MIS vendor's service desk",
        kind="sub_processor",
        country="GB",
        description=(
            "Third-line support from the MIS software supplier. Receives the details of a fault and, only where "
            "the school has agreed in the ticket, an investigation copy of the records involved, which it deletes "
            "when the fault is fixed."
        ),
    ),
)


# ---------------------------------------------------------------------------------------------
# Processing activities
# ---------------------------------------------------------------------------------------------

_TLS = "Encryption in transit: TLS 1.2 or later on every connection, including between Steward's own servers."
_AT_REST = "Encryption at rest of databases, files and backups."
_TENANCY = "Row-level security in PostgreSQL keeps each school's data apart, so no school can see another's."
_TWO_FACTOR = "Two-factor authentication for every staff account, at schools and at the ICT service."
_AUDIT = "A hash-chained audit log records who viewed, changed or sent personal data, and shows any tampering."
_LEAST_PRIVILEGE = "Least-privilege roles: each user sees only the data their role at their school needs."

ACTIVITIES: tuple[ActivityDef, ...] = (
    ActivityDef(
        service="hosted_mis",
        name="Hosted MIS data",
        description=(
            "The ICT service hosts each school's management information system (MIS) data: the records of "
            "learners, their parents and carers, and staff that the school uses to run the school and make its "
            "statutory returns. The school decides what is recorded; the ICT service stores it, keeps it "
            "available and secure, and backs it up, acting only on the school's documented instructions."
        ),
        purposes=(
            "Keep the admission and attendance registers the school must keep.",
            "Hold the learner, parent and staff records the school uses to teach, support and safeguard learners.",
            "Record special educational needs, medical needs and other support so that staff can meet them.",
            "Produce the school census, the school workforce census and common transfer files.",
            "Back up the data so that it can be restored after a failure.",
        ),
        lawful_bases=("6.1.e", "6.1.c"),
        lawful_basis_explanation=(
            "Public task (Art. 6(1)(e)): the school needs records of its learners, their parents and its staff to "
            "carry out its functions under the Education Act 1996 and the Education Act 2002. Legal obligation "
            "(Art. 6(1)(c)): the school must keep admission and attendance registers under the Education (Pupil "
            "Registration) (England) Regulations 2024; provide the school census under s.537A of the Education "
            "Act 1996 and the Education (Information About Individual Pupils) (England) Regulations 2013; provide "
            "the school workforce census under the Education (Supply of Information about the School Workforce) "
            "(England) Regulations 2007; and send a learner's common transfer file to their next school under "
            "the Education (Pupil Information) (England) Regulations 2005. The ICT service processes the data "
            "for the school under an Art. 28 contract."
        ),
        special_conditions=("9.2.g", "9.2.b"),
        special_condition_explanation=(
            "Learners' ethnicity, religion, special educational needs and medical information: substantial public "
            "interest (Art. 9(2)(g)) under DPA 2018 Schedule 1 Part 2 paragraph 6 (statutory purposes: the "
            "census duties above, Part 3 of the Children and Families Act 2014, and s.100 of that Act on "
            "supporting pupils with medical conditions) and paragraph 8 (equality of opportunity or treatment, "
            "for ethnicity and religion). Staff ethnicity: employment (Art. 9(2)(b)) under DPA 2018 Schedule 1 "
            "Part 1 paragraph 1, for the school workforce census and equality monitoring as an employer. Both "
            "conditions need an appropriate policy document (DPA 2018 Schedule 1 Part 4), which the school keeps "
            "as controller."
        ),
        categories=(
            "learner.identity",
            "learner.contact_details",
            "learner.characteristics",
            "learner.photo",
            "learner.special.ethnicity",
            "learner.special.religion",
            "learner.special.sen",
            "learner.special.medical",
            "learner.entitlement",
            "learner.enrolment",
            "learner.groups",
            "learner.attendance",
            "learner.lesson_attendance",
            "learner.exclusion",
            "learner.behaviour",
            "learner.achievement",
            "learner.homework",
            "school.diary",
            "contact.identity",
            "contact.contact_details",
            "contact.relationship",
            "staff.identity",
            "staff.employment",
            "staff.assignment",
            "staff.special.ethnicity",
            "staff.work_contact",
            "school_user.account",
            "school_user.sign_in",
            "school_user.authenticator",
            "school_user.role",
            "audit.activity",
        ),
        subject_types=("learner", "contact", "staff", "school_user"),
        recipients=("backup-provider",),
        places=("uk-datacentre", "uk-backup"),
        retention=(
            RetentionDef(
                trigger="contract_end",
                period_days=30,
                description=(
                    "When the school's contract ends, its data is returned to the school (or passed to a new "
                    "provider on the school's instruction) and deleted 30 days later. Until then the school's own "
                    "retention schedule decides how long each record is kept."
                ),
            ),
            RetentionDef(
                trigger="leaving_date",
                period_days=30,
                category="learner.photo",
                description=(
                    "A learner's photograph is only needed to identify them while they attend, so it is deleted "
                    "30 days after they leave."
                ),
            ),
            RetentionDef(
                trigger="leaving_date",
                period_days=365,
                category="learner.identity",
                description=(
                    "The school's own MIS keeps the statutory record of a learner who has left (the pupil file "
                    "and admission register, for the periods the school's retention schedule sets). The hosted "
                    "copy of a leaver's records — the learner and every record about them: enrolments, groups, "
                    "attendance, behaviour, achievement, exclusions, needs, entitlements and links to contacts — "
                    "is only needed while the school may still ask for it, for example to answer a query from "
                    "the learner's next school or the local authority, or to complete the census and returns "
                    "for the year in which they left. A year after the leaving date covers a full school year "
                    "of such requests, so the copy is deleted 365 days after the learner's last leaving date, "
                    "unless they have since enrolled again."
                ),
            ),
            RetentionDef(
                trigger="event_time",
                period_days=2190,
                category="audit.activity",
                description=(
                    "The audit log shows who viewed, changed or sent personal data. It is kept for six years "
                    "after each event: long enough to answer a complaint or a claim, which under the Limitation "
                    "Act 1980 may be brought up to six years after the event. Older events are then deleted, "
                    "oldest first; a record of where the deletion stopped (the last deleted event's number and "
                    "fingerprint, no personal data) is kept so that tampering with the events that remain can "
                    "still be detected."
                ),
            ),
        ),
        security_measures=(_TLS, _AT_REST, _TENANCY, _TWO_FACTOR, _AUDIT, _LEAST_PRIVILEGE),
    ),
    ActivityDef(
        service="parent_portal",
        name="Parent portal",
        description=(
            "A website through which parents and carers see what the school publishes about their own children "
            "— attendance, behaviour, achievement, homework and the school diary — check their contact details "
            "and respond to consent requests. A parent sees only the learners the school has linked them to, and "
            "only the kinds of information the school has chosen to share."
        ),
        purposes=(
            "Keep parents and carers informed of their child's attendance, behaviour, achievement and homework.",
            "Tell parents and carers about school events, trips and appointments.",
            "Let parents and carers check the contact details the school holds for them.",
            "Record the decisions parents make when the school asks for consent, such as to use photographs.",
            "Manage parent portal accounts and notification preferences.",
        ),
        lawful_bases=("6.1.e",),
        lawful_basis_explanation=(
            "Public task (Art. 6(1)(e)): keeping parents informed about their child's education is part of the "
            "school's functions under the Education Act 1996 and the Education Act 2002, and Working Together to "
            "Improve School Attendance (statutory guidance, 2024) expects schools to keep parents informed about "
            "their child's attendance. Portal accounts and preferences are necessary to do this securely. Where "
            "the school asks for consent through the portal, its later use (for example of a photograph) relies "
            "on that consent; the portal keeps the record the school needs to show it (Art. 7(1))."
        ),
        categories=(
            "learner.identity",
            "learner.photo",
            "learner.enrolment",
            "learner.groups",
            "learner.attendance",
            "learner.lesson_attendance",
            "learner.behaviour",
            "learner.achievement",
            "learner.homework",
            "school.diary",
            "contact.identity",
            "contact.contact_details",
            "contact.relationship",
            "parent_user.account",
            "parent_user.sign_in",
            "parent_user.preferences",
            "parent_user.consent",
        ),
        subject_types=("learner", "contact", "parent_user"),
        recipients=("backup-provider",),
        places=("uk-datacentre", "uk-backup"),
        retention=(
            RetentionDef(
                trigger="account_closed",
                period_days=30,
                description=(
                    "The portal account, its preferences and its consent records are deleted 30 days after the "
                    "account is closed, by the parent or by the school. What the portal shows about learners is "
                    "not copied: it stays in the hosted MIS data under that service's retention."
                ),
            ),
        ),
        security_measures=(_TLS, _AT_REST, _TENANCY, _AUDIT, _LEAST_PRIVILEGE),
    ),
    ActivityDef(
        service="data_exchange",
        name="LA data exchange",
        description=(
            "Sends the information a school must or chooses to share with local authority services and with "
            "suppliers the school uses, over encrypted connections, and keeps a disclosure log of every transfer: "
            "what was sent, to whom, when and on which basis. Only recipients the school has enabled receive "
            "data, and a recipient outside the UK and EEA receives nothing unless a transfer safeguard is recorded."
        ),
        purposes=(
            (
                "Tell the local authority when a learner joins or leaves the admission register, so that children "
                "missing education are found."
            ),
            "Share attendance information with the authority's attendance service.",
            (
                "Share information with the admissions, specialist teaching and youth justice services to support "
                "individual learners."
            ),
            "Send learner, staff and group data to the suppliers the school has chosen.",
            "Keep a log of every disclosure so that the school can account for it.",
        ),
        lawful_bases=("6.1.e", "6.1.c"),
        lawful_basis_explanation=(
            "Legal obligation (Art. 6(1)(c)): the Education (Pupil Registration) (England) Regulations 2024 "
            "require the school to tell the local authority when a learner's name is added to or removed from the "
            "admission register and about learners who stop attending regularly, supporting the authority's duty "
            "to identify children missing education under s.436A of the Education Act 1996; Working Together to "
            "Improve School Attendance (statutory guidance, 2024) requires schools to share attendance information "
            "with the local authority. Public task (Art. 6(1)(e)): sharing with the admissions, specialist teaching "
            "and youth justice services (s.10 of the Children Act 2004 on co-operation to improve children's "
            "well-being; s.115 of the Crime and Disorder Act 1998 for youth justice), and with suppliers through "
            "which the school provides education."
        ),
        special_conditions=("9.2.g",),
        special_condition_explanation=(
            "Special educational needs and medical information sent to the specialist teaching service: "
            "substantial public interest (Art. 9(2)(g)) under DPA 2018 Schedule 1 Part 2 paragraph 6 (statutory "
            "purposes: Part 3 of the Children and Families Act 2014 and the Education Act 1996), and paragraph 18 "
            "(safeguarding of children) where the information is shared to protect a learner. The school keeps "
            "the appropriate policy document (Schedule 1 Part 4)."
        ),
        categories=(
            "learner.identity",
            "learner.contact_details",
            "learner.entitlement",
            "learner.enrolment",
            "learner.groups",
            "learner.attendance",
            "learner.lesson_attendance",
            "learner.exclusion",
            "learner.behaviour",
            "learner.achievement",
            "learner.special.sen",
            "learner.special.medical",
            "contact.identity",
            "contact.contact_details",
            "contact.relationship",
            "staff.identity",
            "staff.assignment",
            "staff.work_contact",
        ),
        subject_types=("learner", "contact", "staff"),
        recipients=(
            "la-attendance",
            "la-cme",
            "la-admissions",
            "la-youth-justice",
            "la-specialist-teaching",
            "microsoft-365",
            "safeguarding-monitor",
            "learning-app",
            "overseas-learning-app",
            "backup-provider",
        ),
        places=("uk-datacentre", "uk-backup"),
        retention=(
            RetentionDef(
                trigger="event_time",
                period_days=2555,
                description=(
                    "The disclosure log (what was sent, to whom, when and why) is kept for seven years after each "
                    "transfer, covering the six-year limitation period for claims, so the school can answer "
                    "subject access requests and complaints about disclosures. The exchange keeps no other copy "
                    "of the data it sends."
                ),
            ),
        ),
        security_measures=(_TLS, _AT_REST, _TENANCY, _AUDIT, _LEAST_PRIVILEGE),
    ),
    ActivityDef(
        service="rostering",
        name="Learning platform rostering",
        description=(
            "Creates and keeps up to date the accounts and class memberships of learners and staff on the school's "
            "network (Active Directory) and the learning platforms the school uses (Microsoft 365 and the learning "
            "app), from the hosted MIS data, as the school approved for each, and disables and then removes them "
            "when people leave. Only what is needed to create an account and place it in the right groups is "
            "sent; no special category data is sent. Every account change is logged as a disclosure."
        ),
        purposes=(
            "Create learner and staff accounts on the school's network and the learning platforms the school uses.",
            "Put learners and teachers in the right classes and groups.",
            "Keep accounts up to date as learners join, leave and change groups.",
            "Remove the accounts of learners and staff who have left.",
        ),
        lawful_bases=("6.1.e",),
        lawful_basis_explanation=(
            "Public task (Art. 6(1)(e)): providing education is the school's function under the Education Act "
            "1996 and the Education Act 2002; accounts and class lists on the learning platforms are necessary "
            "for the teaching the school delivers through them."
        ),
        categories=(
            "learner.identity",
            "learner.enrolment",
            "learner.groups",
            "staff.identity",
            "staff.assignment",
            "staff.work_contact",
        ),
        subject_types=("learner", "staff"),
        recipients=("network-directory", "microsoft-365", "learning-app"),
        places=("uk-datacentre", "uk-cloud"),
        retention=(
            RetentionDef(
                trigger="leaving_date",
                period_days=30,
                category="learner.identity",
                description=(
                    "A learner's accounts are disabled on their leaving date and, thirty days later, removed "
                    "together with the record linking them to those accounts, unless a legal hold stops it. A "
                    "removed account's name is not given to anyone else for a year after the removal."
                ),
            ),
            RetentionDef(
                trigger="leaving_date",
                period_days=30,
                category="staff.identity",
                description=(
                    "A member of staff's accounts are disabled on the day their last contract ends and, thirty "
                    "days later, removed together with the record linking them to those accounts, unless a legal "
                    "hold stops it. A removed account's name is not given to anyone else for a year."
                ),
            ),
            RetentionDef(
                trigger="event_time",
                period_days=365,
                description=(
                    "The record of each provisioning run (the accounts it planned to change, why, and what each "
                    "directory answered) is kept for a year, so the school can answer questions about an account "
                    "over a whole school year."
                ),
            ),
        ),
        security_measures=(_TLS, _AT_REST, _TENANCY, _AUDIT, _LEAST_PRIVILEGE),
    ),
    ActivityDef(
        service="service_desk",
        name="Service desk",
        description=(
            "Support for the people who use Steward: answering questions, fixing faults and investigating "
            "problems. Support staff use Steward users' accounts, roles, sign-in records and the audit log, and "
            "the contact details of the school's named contacts. They see learner, parent or staff records only "
            "when the school agrees, in the ticket, to an investigation copy of the records involved; the copy "
            "holds only the records and fields needed to reproduce the fault, never special category data, is "
            "kept apart from live data, and is destroyed after the fix. The MIS vendor's service desk receives "
            "the same only where third-line support needs it."
        ),
        purposes=(
            "Answer questions and fix faults reported by schools.",
            "Manage Steward accounts and roles, and reset passwords and two-factor authenticators.",
            "Investigate sign-in problems and suspected misuse using sign-in records and the audit log.",
            "Investigate data faults using an investigation copy the school has agreed to.",
            "Contact the school's data protection officer about incidents and personal data breaches.",
        ),
        lawful_bases=("6.1.b", "6.1.e"),
        lawful_basis_explanation=(
            "Contract (Art. 6(1)(b)): Steward users use it as part of their employment by the school or the ICT "
            "service, and the ICT service supports them under its Art. 28 contract with each school. Public task "
            "(Art. 6(1)(e)): fixing faults keeps the school's records accurate and available for its functions "
            "under the Education Act 1996; an investigation copy is processed on the same basis as the hosted MIS "
            "records it comes from."
        ),
        categories=(
            "school_user.account",
            "school_user.sign_in",
            "school_user.authenticator",
            "school_user.role",
            "audit.activity",
            "staff.work_contact",
            "staff.identity",
            "learner.identity",
            "learner.enrolment",
            "learner.groups",
            "learner.attendance",
            "contact.identity",
        ),
        subject_types=("school_user", "staff", "learner", "contact"),
        recipients=("mis-vendor-desk", "backup-provider"),
        places=("uk-datacentre", "uk-backup"),
        retention=(
            RetentionDef(
                trigger="ticket_resolved",
                period_days=90,
                description=(
                    "Tickets, the details copied into them, and any investigation copy are destroyed 90 days "
                    "after the fix. Accounts and the audit log themselves are kept under the hosted MIS service's "
                    "retention, not the service desk's."
                ),
            ),
        ),
        security_measures=(_TLS, _AT_REST, _TWO_FACTOR, _AUDIT, _LEAST_PRIVILEGE),
    ),
)


# ---------------------------------------------------------------------------------------------
# Checking and loading
# ---------------------------------------------------------------------------------------------


def _unique(kind: str, codes: list[str]) -> set[str]:
    seen: set[str] = set()
    for code in codes:
        if code in seen:
            raise ValueError(f"Duplicate {kind} code {code!r} in the register catalogue")
        seen.add(code)
    return seen


def _check_activity(activity: ActivityDef, categories: dict[str, CategoryDef], known: dict[str, set[str]]) -> None:
    where = f"activity {activity.service!r}"
    for kind, codes in (
        ("category", activity.categories),
        ("subject type", activity.subject_types),
        ("recipient", activity.recipients),
        ("place", activity.places),
    ):
        unknown = [code for code in codes if code not in known[kind]]
        if unknown:
            raise ValueError(f"{where} references unknown {kind} {unknown[0]!r}")
    for code in activity.categories:
        subject = categories[code].subject_type
        if subject not in activity.subject_types:
            raise ValueError(f"{where} lists category {code!r} but not its subject type {subject!r}")
    special = [code for code in activity.categories if categories[code].special_category]
    if special and not activity.special_conditions:
        raise ValueError(f"{where} lists special category {special[0]!r} but no Art. 9 condition")

    rule_categories: set[str | None] = set()
    for rule in activity.retention:
        if rule.category is not None and rule.category not in activity.categories:
            raise ValueError(f"{where} has a retention rule for category {rule.category!r} it does not list")
        if rule.category in rule_categories:
            label = "the default" if rule.category is None else repr(rule.category)
            raise ValueError(f"{where} has more than one retention rule for {label}")
        rule_categories.add(rule.category)


def check_catalogue() -> None:
    """Raise ValueError naming the offending code if the catalogue is inconsistent. Needs no database."""
    known = {
        "subject type": _unique("subject type", [s.code for s in SUBJECT_TYPES]),
        "category": _unique("category", [c.code for c in CATEGORIES]),
        "place": _unique("place", [p.code for p in PLACES]),
        "recipient": _unique("recipient", [r.code for r in RECIPIENTS]),
    }
    _unique("activity service", [a.service for a in ACTIVITIES])
    for category in CATEGORIES:
        if category.subject_type not in known["subject type"]:
            raise ValueError(f"Category {category.code!r} names unknown subject type {category.subject_type!r}")
    categories = {c.code: c for c in CATEGORIES}
    for activity in ACTIVITIES:
        _check_activity(activity, categories, known)


def sync_catalogue(apps: Any) -> None:
    """Upsert the catalogue into the register tables; safe to run again whenever the content changes.

    `apps` is a migration's historical app registry or `django.apps.apps`. Rows are matched by code
    (activities by service); many-to-many links are replaced to match the catalogue exactly, and each
    activity's retention rules are deleted and recreated. Register rows the catalogue no longer names
    are left alone. Raises ValueError, before writing anything, if the catalogue is inconsistent.
    """
    check_catalogue()

    subject_type_model = apps.get_model("register", "DataSubjectType")
    category_model = apps.get_model("register", "DataCategory")
    place_model = apps.get_model("register", "PlaceOfProcessing")
    recipient_model = apps.get_model("register", "Recipient")
    activity_model = apps.get_model("register", "ProcessingActivity")
    rule_model = apps.get_model("register", "RetentionRule")

    subjects: dict[str, Any] = {}
    for s in SUBJECT_TYPES:
        subjects[s.code], _ = subject_type_model.objects.update_or_create(
            code=s.code, defaults={"name": s.name, "description": s.description}
        )

    categories: dict[str, Any] = {}
    for c in CATEGORIES:
        categories[c.code], _ = category_model.objects.update_or_create(
            code=c.code,
            defaults={
                "name": c.name,
                "description": c.description,
                "subject_type": subjects[c.subject_type],
                "special_category": c.special_category,
            },
        )

    places: dict[str, Any] = {}
    for p in PLACES:
        places[p.code], _ = place_model.objects.update_or_create(
            code=p.code, defaults={"name": p.name, "country": p.country, "description": p.description}
        )

    recipients: dict[str, Any] = {}
    for r in RECIPIENTS:
        recipients[r.code], _ = recipient_model.objects.update_or_create(
            code=r.code,
            defaults={
                "name": r.name,
                "kind": r.kind,
                "description": r.description,
                "country": r.country,
                "transfer_safeguard": r.transfer_safeguard,
            },
        )

    for a in ACTIVITIES:
        activity, _ = activity_model.objects.update_or_create(
            service=a.service,
            defaults={
                "name": a.name,
                "description": a.description,
                "purposes": list(a.purposes),
                "lawful_bases": list(a.lawful_bases),
                "lawful_basis_explanation": a.lawful_basis_explanation,
                "special_conditions": list(a.special_conditions),
                "special_condition_explanation": a.special_condition_explanation,
                "security_measures": list(a.security_measures),
            },
        )
        activity.categories.set([categories[code] for code in a.categories])
        activity.subject_types.set([subjects[code] for code in a.subject_types])
        activity.recipients.set([recipients[code] for code in a.recipients])
        activity.places.set([places[code] for code in a.places])

        rule_model.objects.filter(activity=activity).delete()
        for rule in a.retention:
            rule_model.objects.create(
                activity=activity,
                category=None if rule.category is None else categories[rule.category],
                trigger=rule.trigger,
                period_days=rule.period_days,
                description=rule.description,
            )
