"""A synthetic local authority: deterministic MIS batches for benchmarks and load tests.

    python bench/generate.py --schools 100 --seed 1 --out DIR [--year 2025 | --today 2026-11-30] [--formats csv,ctf]

For each school it writes `<urn>.zip`, a CSV-zip batch (one `<record type>.csv` per record type,
every type present, header = the spec's field names), and when asked `<urn>.ctf.xml` through
`steward.ingest.ctf.write_ctf`; then `manifest.json` listing the schools, their files and row
counts. The same seed and calendar give byte-identical files: each school draws from its own
`random.Random` seeded from the global seed and its URN (each part of a school from its own
stream, so changing one part does not reshuffle the others) and zip members carry a fixed
timestamp.

Two calendars (`Calendar`). With a year (`--year 2025` = September 2025 to July 2026, what the
benchmarks use, so their volumes never change) the data is that academic year as a school would
send it at its end: ~190 school days, two session marks a day per learner. Without one, it is the
school as its MIS stands on `today` (`--today`, by default the real date: `steward demo` uses
this): the previous school year's attendance and this one's up to yesterday (a nightly export
holds no mark for a register not yet taken), homework set in the last days of term, and this
year's diary (next year's too in the summer holiday). Only school days carry attendance: Monday
to Friday outside the holidays, the school year running from 1 September to 31 August.

Everything personal is fictional by construction: names drawn from lists of common UK names,
addresses on generic street names with well-formed postcodes in the LA's CM/CO/SS districts,
phone numbers in Ofcom's drama ranges (01632 960xxx, 07700 900xxx), e-mail addresses under
`.invalid`, NI numbers with the QQ prefix HMRC reserves for examples. URNs are 99xxxx, a
range no real establishment has. UPNs are valid DfE UPNs (check letter included) for LA 881.

`make_delta` copies a school's zip with a given fraction of each type's rows changed in one
non-key field: a full batch in which ~1% of records changed, as a nightly sync sends.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import io
import json
import math
import os
import random
import sys
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from steward.mis.identifiers import make_upn, upn_check_letter  # noqa: F401 - upn_check_letter is part of this API

LA_CODE = "881"
LA_NAME = "Essex"
URN_BASE = 990000
SCHOOL_DAYS = 190
FORMATS = ("csv", "ctf")

# The columns of each record type as the CSV-zip format carries them, in the order of
# `steward.ingest.schema.all_specs()` (tests/bench checks both against the spec).
COLUMNS: dict[str, tuple[str, ...]] = {
    "school-details": (
        "source_id", "name", "address_line1", "address_line2", "town", "postcode", "head_teacher", "email",
        "website", "phone",
    ),
    "learners": (
        "source_id", "upn", "former_upn", "legal_forename", "middle_names", "legal_surname", "preferred_forename",
        "preferred_surname", "date_of_birth", "gender", "ethnicity", "religion", "first_language", "address_line1",
        "address_line2", "town", "postcode", "phone", "email", "photo",
    ),
    "contacts": (
        "source_id", "title", "forename", "surname", "gender", "address_line1", "address_line2", "town", "postcode",
        "email", "email_alternative", "phone_home", "phone_mobile", "phone_work",
    ),
    "learner-contacts": (
        "source_id", "learner_source_id", "contact_source_id", "relationship", "parental_responsibility", "priority",
        "lives_with",
    ),
    "staff": (
        "source_id", "title", "forename", "surname", "preferred_forename", "date_of_birth", "gender", "ni_number",
        "teacher_number", "email",
    ),
    "staff-assignments": ("source_id", "staff_source_id", "role", "start_date", "end_date"),
    "staff-contracts": ("source_id", "staff_source_id", "contract_type", "post", "start_date", "end_date", "fte"),
    "groups": ("source_id", "name", "code", "group_type", "subject", "start_date", "end_date"),
    "group-enrolments": ("source_id", "group_source_id", "learner_source_id", "start_date", "end_date"),
    "school-enrolments": (
        "source_id", "learner_source_id", "entry_date", "leaving_date", "enrolment_status", "year_group",
    ),
    "session-attendance": ("source_id", "learner_source_id", "date", "session", "mark", "minutes_late", "comment"),
    "lesson-attendance": (
        "source_id", "learner_source_id", "group_source_id", "lesson_date", "start_time", "end_time", "mark",
        "minutes_late", "comment",
    ),
    "exclusions": (
        "source_id", "learner_source_id", "exclusion_type", "category", "start_date", "end_date", "sessions",
    ),
    "special-needs": ("source_id", "learner_source_id", "provision", "need_types", "start_date", "end_date"),
    "entitlements": ("source_id", "learner_source_id", "entitlement_type", "start_date", "end_date"),
    "behaviours": (
        "source_id", "learner_source_id", "behaviour_type", "activity_type", "location", "role", "points", "comments",
        "event_date",
    ),
    "achievements": (
        "source_id", "learner_source_id", "achievement_type", "activity_type", "points", "comments", "event_date",
    ),
    "homework": ("source_id", "group_source_id", "title", "description", "subject", "set_date", "due_date"),
    "diary-events": ("source_id", "description", "category", "starts_at", "ends_at"),
}  # fmt: skip
LIST_COLUMNS = frozenset({("special-needs", "need_types")})
# The record types a CTF carries (write_ctf's `records`).
CTF_TYPES = (
    "learners",
    "contacts",
    "learner-contacts",
    "special-needs",
    "entitlements",
    "school-enrolments",
    "session-attendance",
)

# --- names, places and codes --------------------------------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


@dataclass(frozen=True)
class Heritage:
    boys: tuple[str, ...]
    girls: tuple[str, ...]
    men: tuple[str, ...]
    women: tuple[str, ...]
    surnames: tuple[str, ...]
    languages: tuple[tuple[str, int], ...] = (("ENG", 1),)
    religions: tuple[tuple[str, int], ...] = (("NOR", 55), ("CHR", 40), ("OTH", 2), ("JEW", 1), ("BUD", 1), ("REF", 1))


HERITAGE: dict[str, Heritage] = {
    "british": Heritage(
        boys=_words(
            "Oliver George Harry Noah Jack Leo Arthur Oscar Charlie Jacob Thomas Freddie Alfie Theo William Henry "
            "Archie Joshua James Isaac Edward Alexander Ethan Logan Teddy Finley Max Lucas Riley Harrison Samuel "
            "Daniel Joseph Reuben Toby Tommy Albie Ronnie Frankie Louie Stanley Jude Mason Dylan Benjamin Sebastian "
            "Rory Elliot"
        ),
        girls=_words(
            "Olivia Amelia Isla Ava Lily Freya Florence Ivy Willow Mia Isabella Grace Sophia Poppy Evie Ella Rosie "
            "Sienna Daisy Elsie Phoebe Millie Emily Harper Matilda Ruby Evelyn Charlotte Alice Lola Erin Maisie Holly "
            "Esmé Imogen Scarlett Chloe Jessica Megan Eleanor Hannah Lucy Sophie Zoë"
        ),
        men=_words(
            "Mark Paul Lee Daniel Craig Stuart Darren James David Andrew Richard Matthew Christopher Michael Steven "
            "Gary Jason Wayne Simon Neil Robert Ian Adam Ben Tom Ryan Dean Carl Scott Jamie"
        ),
        women=_words(
            "Sarah Emma Claire Lisa Gemma Michelle Kelly Nicola Laura Rebecca Joanne Donna Victoria Amy Hayley Kerry "
            "Stacey Katie Rachel Samantha Natalie Louise Helen Jennifer Charlotte Leanne Danielle Zoe Kirsty Jade"
        ),
        surnames=_words(
            "Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson Evans Walker White "
            "Roberts Green Hall Wood Jackson Clarke Harris Lewis Turner Hill Cooper Ward Morris King Baker Harrison "
            "Morgan Allen Scott Moore Parker Bennett Cook Bailey Carter Mitchell Edwards Hughes Phillips Adams Hunt "
            "Cole Payne Pearce Ellis Marsh Fletcher Chapman Webb Barker Mills Palmer Holmes Knight Saunders Osborne "
            "Ashworth Pemberton"
        ),
    ),
    "irish": Heritage(
        boys=_words("Ciaran Sean Liam Cian Patrick Conor Oisín Declan"),
        girls=_words("Niamh Aoife Siobhan Saoirse Ciara Róisín Orla Clodagh"),
        men=_words("Brendan Kieran Padraig Eamon Declan"),
        women=_words("Bridget Siobhan Maeve Sinead Deirdre"),
        surnames=_words("Murphy Kelly O'Brien Byrne Walsh Ryan O'Connor Doyle McCarthy Gallagher O'Sullivan Quinn"),
        religions=(("CHR", 80), ("NOR", 20)),
    ),
    "polish": Heritage(
        boys=_words("Jakub Szymon Filip Antoni Kacper Mikołaj Mateusz Wojciech"),
        girls=_words("Zofia Maja Oliwia Julia Zuzanna Hanna Natalia Wiktoria"),
        men=_words("Tomasz Piotr Marcin Krzysztof Łukasz Paweł"),
        women=_words("Anna Katarzyna Agnieszka Magdalena Joanna Małgorzata"),
        surnames=_words(
            "Nowak Kowalski Wiśniewski Wójcik Kamiński Lewandowski Zieliński Szymański Kozłowski Mazur Krawczyk"
        ),
        languages=(("POL", 60), ("ENG", 40)),
        religions=(("CHR", 85), ("NOR", 15)),
    ),
    "romanian": Heritage(
        boys=_words("Andrei Alexandru Matei Ștefan Luca David"),
        girls=_words("Ioana Maria Elena Sofia Ana Daria"),
        men=_words("Ion Mihai Bogdan Florin Gheorghe"),
        women=_words("Andreea Cristina Mihaela Gabriela Alina"),
        surnames=_words("Popescu Ionescu Popa Dumitru Stan Stoica Gheorghiu Munteanu"),
        languages=(("RMN", 60), ("ENG", 40)),
        religions=(("CHR", 90), ("NOR", 10)),
    ),
    "indian": Heritage(
        boys=_words("Arjun Aarav Rohan Ishaan Krish Dev Vihaan Jaskaran Aryan Harjot"),
        girls=_words("Priya Ananya Diya Saanvi Anika Riya Simran Navneet Kiran Isha"),
        men=_words("Rajesh Sanjay Vikram Amit Harpreet Sunil"),
        women=_words("Sunita Anjali Pooja Neha Manpreet Deepa"),
        surnames=_words("Patel Sharma Singh Shah Gupta Kumar Mistry Chauhan Joshi Sandhu Gill Parmar"),
        languages=(("ENG", 65), ("PNJ", 35)),
        religions=(("HIN", 50), ("SIK", 35), ("MUS", 5), ("CHR", 5), ("NOR", 5)),
    ),
    "pakistani": Heritage(
        boys=_words("Muhammad Hamza Ibrahim Yusuf Ali Bilal Hassan Zayan Ayaan Rayyan"),
        girls=_words("Ayesha Zainab Fatima Maryam Aisha Zara Amina Hafsa Inaya Anaya"),
        men=_words("Imran Tariq Asif Kamran Naveed Shahid"),
        women=_words("Nadia Saima Shazia Rubina Sana Farah"),
        surnames=_words("Khan Hussain Ahmed Ali Iqbal Akhtar Mahmood Butt Rashid Aslam Malik Qureshi"),
        languages=(("URD", 40), ("PNJ", 20), ("ENG", 40)),
        religions=(("MUS", 98), ("NOR", 2)),
    ),
    "bangladeshi": Heritage(
        boys=_words("Abdul Tahmid Raihan Ayaan Rafi Tanvir Arham"),
        girls=_words("Nusrat Sumaiya Tasnim Nafisa Sadia Jannat Raisa"),
        men=_words("Mohammed Jamal Rashed Kamal Anwar"),
        women=_words("Rokeya Shirin Salma Nazma Rehana"),
        surnames=_words("Rahman Begum Miah Uddin Islam Chowdhury Hoque Ahmed Hossain Khatun"),
        languages=(("BNG", 55), ("ENG", 45)),
        religions=(("MUS", 97), ("HIN", 3)),
    ),
    "caribbean": Heritage(
        boys=_words("Jayden Tyrese Malachi Kai Elijah Reggie Nathaniel Isaiah"),
        girls=_words("Kayla Shanice Jada Aaliyah Tiana Nia Imani Keisha"),
        men=_words("Delroy Winston Marlon Leon Trevor Clive"),
        women=_words("Sharon Marcia Paulette Jacqueline Simone Andrea"),
        surnames=_words(
            "Campbell Brown Williams Francis Grant Henry Thomas Johnson Bailey Reid Gordon Richards Samuels"
        ),
        religions=(("CHR", 70), ("NOR", 30)),
    ),
    "west_african": Heritage(
        boys=_words("Chidi Kwame Tolu Oluwaseun Kofi Emeka Daniel David Samuel Tobi"),
        girls=_words("Ama Chiamaka Ifeoluwa Abena Adaeze Esther Favour Precious Temi"),
        men=_words("Olumide Kwabena Chukwuemeka Babatunde Femi"),
        women=_words("Folake Ngozi Yewande Akosua Funmilayo"),
        surnames=_words("Okafor Adeyemi Mensah Owusu Adebayo Okeke Boateng Asante Nwosu Eze Oyelaran Danso"),
        religions=(("CHR", 80), ("MUS", 15), ("NOR", 5)),
    ),
    "somali": Heritage(
        boys=_words("Abdirahman Liban Abdullahi Mohamed Yusuf Ayub"),
        girls=_words("Hodan Ayan Hamdi Ikran Sagal Fardowsa"),
        men=_words("Abdi Hassan Ahmed Mahad"),
        women=_words("Fadumo Halima Khadra Hibo"),
        surnames=_words("Mohamed Abdi Hassan Warsame Farah Osman Yusuf Jama Nur"),
        languages=(("SOM", 60), ("ENG", 40)),
        religions=(("MUS", 1),),
    ),
    "chinese": Heritage(
        boys=_words("Wei Jun Hao Ming Kai Yi Ethan Lucas"),
        girls=_words("Mei Xin Yan Jia Ling Hui Chloe Grace"),
        men=_words("Wei Jian Ming Kevin"),
        women=_words("Li Xiu Yan Jenny"),
        surnames=_words("Wang Li Zhang Chen Liu Huang Wong Lam Cheung Chan Ng Ho"),
        religions=(("NOR", 60), ("BUD", 20), ("CHR", 20)),
    ),
    "arab": Heritage(
        boys=_words("Omar Yousef Sami Khalid Adam Zayd Karim"),
        girls=_words("Layla Noor Rania Hana Yasmin Lina Maryam"),
        men=_words("Ahmad Mahmoud Walid Tarek"),
        women=_words("Rana Huda Dalia Samira"),
        surnames=_words("Haddad Nasser Saleh Karim Mansour Al-Sayed Khalil Hamdan Darwish Aziz"),
        languages=(("ARA", 50), ("ENG", 50)),
        religions=(("MUS", 85), ("CHR", 15)),
    ),
}

# DfE ethnicity codes, weighted roughly like England's pupils (~65% WBRI), and whose names the
# families get: one heritage chosen by weight, or for mixed codes names from all of them.
ETHNICITIES: tuple[tuple[str, float, tuple[tuple[str, int], ...], bool], ...] = (
    ("WBRI", 65.0, (("british", 1),), False),
    ("WIRI", 0.4, (("irish", 1),), False),
    ("WOTH", 8.0, (("polish", 55), ("romanian", 35), ("british", 10)), False),
    ("MWBC", 1.8, (("british", 1), ("caribbean", 1)), True),
    ("MWBA", 1.0, (("british", 1), ("west_african", 1)), True),
    ("MWAS", 2.0, (("british", 1), ("pakistani", 1), ("indian", 1)), True),
    ("AIND", 3.8, (("indian", 1),), False),
    ("APKN", 4.9, (("pakistani", 1),), False),
    ("ABAN", 2.0, (("bangladeshi", 1),), False),
    ("BCRB", 1.1, (("caribbean", 1),), False),
    ("BAFR", 4.5, (("west_african", 70), ("somali", 30)), False),
    ("CHNE", 0.6, (("chinese", 1),), False),
    ("OOTH", 2.8, (("arab", 1),), False),
    ("REFU", 2.1, (("british", 1),), False),
)

NICKNAMES = {
    "Alexander": "Alex",
    "Benjamin": "Ben",
    "Samuel": "Sam",
    "Thomas": "Tom",
    "Joshua": "Josh",
    "William": "Will",
    "Isabella": "Bella",
    "Jessica": "Jess",
    "Matilda": "Tilly",
    "Eleanor": "Ellie",
    "Frederick": "Fred",
    "Christopher": "Chris",
    "Matthew": "Matt",
    "Michael": "Mike",
    "Robert": "Rob",
    "Samantha": "Sam",
    "Victoria": "Vicky",
    "Jennifer": "Jen",
    "Daniel": "Dan",
    "Andrew": "Andy",
    "Richard": "Rich",
    "Rebecca": "Becky",
    "Nicola": "Nicky",
    "Steven": "Steve",
    "Katherine": "Kate",
    "Mohammed": "Mo",
    "Muhammad": "Mo",
    "Abdirahman": "Abdi",
    "Oluwaseun": "Seun",
    "Chukwuemeka": "Emeka",
}

STREETS = _words(
    "High_Street Church_Lane Station_Road Mill_Road The_Avenue Victoria_Road Queens_Road Kings_Road London_Road "
    "Park_Road New_Road Manor_Road Springfield_Road Rectory_Lane Orchard_Close Meadow_Way Elm_Grove Oak_Avenue "
    "Beech_Close Willow_Way Nursery_Road Crescent_Road Brook_Street Hall_Lane Green_Lane Chapel_Street "
    "Woodland_Way Cedar_Avenue School_Lane Maldon_Road Colchester_Road Southend_Road Harwich_Road Coggeshall_Road "
    "Broomfield_Road Baddow_Road Tiptree_Road Nelson_Road Windsor_Close Primrose_Hill Lavender_Close Heath_Road "
    "Field_View Mulberry_Way Kestrel_Drive Badger_Close Ash_Tree_Walk Riverside Hawthorn_Close Linden_Crescent"
)
STREETS = tuple(s.replace("_", " ") for s in STREETS)
POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # the inward-code letters Royal Mail uses


@dataclass(frozen=True)
class Place:
    name: str
    town: str
    districts: tuple[str, ...]


PLACES: tuple[Place, ...] = tuple(
    Place(name, town, tuple(districts.split()))
    for name, town, districts in (
        ("Chelmsford", "Chelmsford", "CM1 CM2"),
        ("Great Baddow", "Chelmsford", "CM2"),
        ("Writtle", "Chelmsford", "CM1"),
        ("Broomfield", "Chelmsford", "CM1"),
        ("Springfield", "Chelmsford", "CM1 CM2"),
        ("Danbury", "Chelmsford", "CM3"),
        ("South Woodham Ferrers", "Chelmsford", "CM3"),
        ("Boreham", "Chelmsford", "CM3"),
        ("Hatfield Peverel", "Chelmsford", "CM3"),
        ("Ingatestone", "Ingatestone", "CM4"),
        ("Great Dunmow", "Dunmow", "CM6"),
        ("Braintree", "Braintree", "CM7"),
        ("Great Notley", "Braintree", "CM77"),
        ("Witham", "Witham", "CM8"),
        ("Maldon", "Maldon", "CM9"),
        ("Heybridge", "Maldon", "CM9"),
        ("Wickford", "Wickford", "SS11 SS12"),
        ("Billericay", "Billericay", "CM11 CM12"),
        ("Brentwood", "Brentwood", "CM14 CM15"),
        ("Shenfield", "Brentwood", "CM15"),
        ("Epping", "Epping", "CM16"),
        ("Harlow", "Harlow", "CM17 CM18 CM19 CM20"),
        ("Burnham-on-Crouch", "Burnham-on-Crouch", "CM0"),
        ("Southminster", "Southminster", "CM0"),
        ("Colchester", "Colchester", "CO1 CO2 CO3 CO4"),
        ("Lexden", "Colchester", "CO3"),
        ("Stanway", "Colchester", "CO3"),
        ("Highwoods", "Colchester", "CO4"),
        ("Wivenhoe", "Colchester", "CO7"),
        ("Brightlingsea", "Colchester", "CO7"),
        ("Tiptree", "Colchester", "CO5"),
        ("West Mersea", "Colchester", "CO5"),
        ("Kelvedon", "Colchester", "CO5"),
        ("Coggeshall", "Colchester", "CO6"),
        ("Earls Colne", "Colchester", "CO6"),
        ("Halstead", "Halstead", "CO9"),
        ("Sible Hedingham", "Halstead", "CO9"),
        ("Manningtree", "Manningtree", "CO11"),
        ("Harwich", "Harwich", "CO12"),
        ("Frinton-on-Sea", "Frinton-on-Sea", "CO13"),
        ("Walton-on-the-Naze", "Walton on the Naze", "CO14"),
        ("Clacton-on-Sea", "Clacton-on-Sea", "CO15 CO16"),
        ("Basildon", "Basildon", "SS13 SS14 SS15 SS16"),
        ("Laindon", "Basildon", "SS15"),
        ("Pitsea", "Basildon", "SS13"),
        ("Rayleigh", "Rayleigh", "SS6"),
        ("Hockley", "Hockley", "SS5"),
        ("Hullbridge", "Hockley", "SS5"),
        ("Rochford", "Rochford", "SS4"),
        ("Benfleet", "Benfleet", "SS7"),
        ("Canvey Island", "Canvey Island", "SS8"),
    )
)
SAINTS = _words("Andrew Michael Peter John Mary Thomas Joseph Francis Helen Luke Anne Margaret Edmund Cedd Teresa")
TREES = _words("Oak Ash Willow Rowan Beech Hazel Elm Birch Maple Cedar Holly Chestnut Sycamore Hawthorn Alder Larch")
HOUSES = _words("Brunel Darwin Nightingale Seacole")

SUBJECTS: tuple[tuple[str, str], ...] = (  # secondary: (name, code); the first three everyone takes
    ("Mathematics", "Ma"),
    ("English", "En"),
    ("Science", "Sc"),
    ("History", "Hi"),
    ("Geography", "Gg"),
    ("French", "Fr"),
    ("Art and Design", "Ar"),
    ("Physical Education", "PE"),
    ("Computing", "Co"),
    ("Religious Education", "RE"),
    ("Music", "Mu"),
    ("Design and Technology", "DT"),
)
CORE_SUBJECTS = 3
# Periods of a secondary day: (start, end, session).
PERIODS = (
    ("08:50", "09:50", 0),
    ("09:50", "10:50", 0),
    ("11:10", "12:10", 0),
    ("13:00", "14:00", 1),
    ("14:00", "15:00", 1),
)
HOMEWORK_TOPICS = {
    "Mathematics": ("Fractions and decimals", "Solving linear equations", "Angles in polygons", "Probability"),
    "English": ("Persuasive letter", "Poetry analysis", "Character study", "Spelling and grammar quiz"),
    "Science": ("Cells and organisation", "Forces and motion", "The periodic table", "Electric circuits"),
    "History": ("The Norman Conquest", "The Tudors", "The Industrial Revolution", "The First World War"),
    "Geography": ("Rivers and flooding", "Coasts of Essex", "Population change", "Weather and climate"),
    "French": ("Vocabulary: my family", "Vocabulary: school", "Past tense practice", "Reading comprehension"),
    "Art and Design": ("Observational drawing", "Artist research", "Colour theory"),
    "Physical Education": ("Fitness diary", "Rules of netball"),
    "Computing": ("Algorithms", "Online safety poster", "Python practice"),
    "Religious Education": ("Places of worship", "Festivals of light", "Ethics essay"),
    "Music": ("Listening log", "Composer research"),
    "Design and Technology": ("Design brief", "Materials research"),
    "Primary": ("Spellings", "Times tables practice", "Reading log", "Topic project", "Maths worksheet"),
}

# Attendance: present marks per session, and absences (about 5% of days) by DfE code.
Mark = tuple[str, int | None, str | None]  # (code, minutes late, comment)
PRESENT_AM: Mark = ("/", None, None)
PRESENT_PM: Mark = ("\\", None, None)
ABSENCE_CODES = ("I", "M", "O", "G", "C", "N", "U", "L")
ABSENCE_WEIGHTS = (45, 8, 8, 6, 8, 4, 4, 17)
ABSENCE_COMMENTS = {
    "I": ("Parent phoned - unwell", "Sickness bug", "High temperature", "Unwell - email from parent"),
    "M": ("Dentist appointment", "Hospital appointment", "GP appointment", "Orthodontist"),
    "O": ("No reason given", "Unexplained absence"),
    "G": ("Family holiday not authorised",),
    "C": ("Family funeral", "Authorised by headteacher", "Exceptional circumstances"),
    "N": ("Awaiting reason from parent",),
    "U": ("Arrived after registers closed",),
    "L": ("Traffic", "Bus late", "Car broke down", "Overslept"),
}
EXCLUSION_CATEGORIES = ("PA", "PP", "VP", "VA", "BU", "DA", "DM", "TH", "OT")
EXCLUSION_WEIGHTS = (8, 20, 15, 20, 5, 5, 8, 4, 15)
SEN_NEEDS = ("SPLD", "MLD", "SLD", "SEMH", "SLCN", "HI", "VI", "ASD", "PD", "OTH")
SEN_NEED_WEIGHTS = {"K": (12, 14, 1, 20, 24, 2, 1, 14, 3, 4), "E": (4, 8, 10, 15, 15, 3, 2, 30, 6, 3)}

BEHAVIOURS = {
    "primary": (
        ("Not following instructions", 1),
        ("Disruption in class", 1),
        ("Unkind words", 1),
        ("Playground incident", 2),
        ("Physical behaviour", 3),
        ("Damage to property", 2),
    ),
    "secondary": (
        ("Disruption in lesson", 1),
        ("Incomplete homework", 1),
        ("Late to lesson", 1),
        ("Uniform infringement", 1),
        ("Equipment not brought", 1),
        ("Mobile phone", 2),
        ("Rudeness to staff", 3),
        ("Defiance", 3),
        ("Truancy from lesson", 3),
        ("Bullying", 5),
        ("Physical aggression", 5),
    ),
}
BEHAVIOUR_ACTIVITIES = ("Lesson", "Break time", "Lunchtime", "Registration", "Before school", "After school")
BEHAVIOUR_LOCATIONS = ("Classroom", "Playground", "Corridor", "Dining hall", "Field", "Toilets", "Library")
BEHAVIOUR_COMMENTS = (
    "Spoke to pupil",
    "Parent informed by phone",
    "Detention set",
    "Moved seats",
    "Restorative conversation held",
    "Reflection time at lunch",
    "",
)
ACHIEVEMENTS = (
    ("Excellent classwork", 1),
    ("Outstanding homework", 2),
    ("Star of the week", 5),
    ("Helping others", 1),
    ("Reading milestone", 2),
    ("Sports team", 2),
    ("Headteacher's award", 5),
    ("Full attendance for the term", 3),
    ("Good effort", 1),
    ("Community contribution", 2),
)
ACHIEVEMENT_ACTIVITIES = ("Lesson", "Extra-curricular", "Assembly", "Tutor time")
ACHIEVEMENT_COMMENTS = (
    "Well done!",
    "Brilliant persuasive writing",
    "Consistently excellent effort",
    "Kind and helpful to a new classmate",
    "Great teamwork",
    "",
)


# --- the school calendar -------------------------------------------------------------------------


def _on_or_after(day: date, weekday: int) -> date:
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def _on_or_before(day: date, weekday: int) -> date:
    return day - timedelta(days=(day.weekday() - weekday) % 7)


def _easter(year: int) -> date:
    """Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    leap = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * leap) // 451
    month, day = divmod(h + leap - 7 * m + 114, 31)
    return date(year, month, day + 1)


def term_start(year: int) -> date:
    """The first day of the academic year starting in September `year`: the first Wednesday from 2 September."""
    return _on_or_after(date(year, 9, 2), 2)


def holidays(year: int) -> list[tuple[date, date]]:
    """Approximately the usual English holidays of the academic year starting in September `year`."""
    october = _on_or_before(date(year, 10, 31), 0)
    christmas_from = _on_or_before(date(year, 12, 20), 4) + timedelta(days=1)
    christmas_to = _on_or_after(date(year + 1, 1, 3), 0) - timedelta(days=1)
    february = _on_or_after(date(year + 1, 2, 12), 0)
    easter = _easter(year + 1)
    may_bank_holiday = _on_or_after(date(year + 1, 5, 1), 0)
    whitsun = _on_or_before(date(year + 1, 5, 31), 0)
    return [
        (october, october + timedelta(days=4)),
        (christmas_from, christmas_to),
        (february, february + timedelta(days=4)),
        (easter - timedelta(days=6), easter + timedelta(days=5)),
        (may_bank_holiday, may_bank_holiday),
        (whitsun, whitsun + timedelta(days=4)),
    ]


def school_days(year: int) -> list[date]:
    """The 190 school days of the academic year starting in September `year` (weekdays, not holidays)."""
    closed = holidays(year)
    days: list[date] = []
    day = term_start(year)
    while len(days) < SCHOOL_DAYS and day <= date(year + 1, 7, 31):
        if day.weekday() < 5 and not any(start <= day <= end for start, end in closed):
            days.append(day)
        day += timedelta(days=1)
    return days


def academic_year_of(day: date) -> int:
    """The first calendar year of the school year `day` is in (a school year runs 1 September to 31 August)."""
    return day.year if day.month >= 9 else day.year - 1


@dataclass(frozen=True)
class Calendar:
    """The days a school's data covers.

    `year` is the school year the learners' year groups and groups belong to; `days` the school
    days that carry attendance, in order; `year_days` every school day of `year` (the diary plans
    ahead); `as_at` the day the data is as at, or None for a whole year sent at its end.
    """

    year: int
    days: tuple[date, ...]
    year_days: tuple[date, ...]
    as_at: date | None = None

    @classmethod
    def whole_year(cls, year: int) -> Calendar:
        days = tuple(school_days(year))
        return cls(year=year, days=days, year_days=days)

    @classmethod
    def on(cls, today: date) -> Calendar:
        """As the MIS stands on `today`: last school year's days and this one's before today."""
        year = academic_year_of(today)
        year_days = tuple(school_days(year))
        days = tuple(d for d in (*school_days(year - 1), *year_days) if d < today)
        return cls(year=year, days=days, year_days=year_days, as_at=today)


def london_today() -> date:
    """Today in England, where the schools are (not the machine's time zone)."""
    return datetime.now(ZoneInfo("Europe/London")).date()


def uk_offset(day: date) -> str:
    """The UK's UTC offset in the daytime of `day` (BST from the last Sunday of March to that of October)."""
    bst = _on_or_before(date(day.year, 3, 31), 6) <= day < _on_or_before(date(day.year, 10, 31), 6)
    return "+01:00" if bst else "+00:00"


def _datetime(day: date, hhmm: str) -> str:
    return f"{day.isoformat()}T{hhmm}:00{uk_offset(day)}"


# --- planning the local authority ----------------------------------------------------------------


@dataclass(frozen=True)
class SchoolPlan:
    index: int
    urn: int
    name: str
    phase: str  # primary | secondary
    establishment_number: str
    place: Place
    learners: int

    @property
    def slug(self) -> str:
        return _ascii(self.name.replace(" School", "").replace(" Church of England", " CE")).replace(" ", "-")


def _ascii(text: str) -> str:
    """Lower-case ASCII letters, digits and spaces, for e-mail addresses and web domains."""
    text = text.replace("ł", "l").replace("Ł", "L")
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum() or ch == " ").strip()


def plan_schools(count: int, *, seed: int, scale: float = 1.0) -> list[SchoolPlan]:
    """Which schools the LA has: every 20th (from the second) a secondary of 900-1300 learners, the rest
    primaries of one to two forms of entry (about 210-420 learners): ~300 learners a school on average."""
    rng = random.Random(f"{seed}:la")  # synthetic data, not secrets  # nosec B311
    places = list(PLACES)
    rng.shuffle(places)
    primary_numbers = rng.sample(range(2001, 2999), k=min(count, 998))
    church_numbers = rng.sample(range(3001, 3999), k=min(count, 998))
    secondary_numbers = rng.sample(range(4001, 4999), k=min(count, 998))
    names: set[str] = set()
    plans = []
    for index in range(count):
        place = places[index % len(places)]
        secondary = index % 20 == 1
        if secondary:
            learners = rng.randint(900, 1300)
            number = secondary_numbers[index % len(secondary_numbers)]
            options = [
                f"{place.name} Academy",
                f"{place.name} High School",
                f"{place.name} County High School",
                f"The {place.name} School",
            ]
        else:
            forms = rng.choices((1.0, 1.5, 2.0), weights=(60, 20, 20))[0]
            learners = round(210 * forms * rng.uniform(0.88, 1.0))
            church = rng.random() < 0.3
            numbers = church_numbers if church else primary_numbers
            number = numbers[index % len(numbers)]
            if church:
                saint = rng.choice(SAINTS)
                options = [
                    f"{place.name} Church of England Primary School",
                    f"St {saint}'s Catholic Primary School, {place.name}",
                    f"{place.name} St {saint}'s CofE Primary School",
                ]
            else:
                options = [
                    f"{place.name} Primary School",
                    f"{place.name} Community Primary School",
                    f"{place.name} Primary Academy",
                    f"{place.name} Park Primary School",
                ]
        rng.shuffle(options)
        name = next((n for n in options if n not in names), f"{options[0]} ({index + 1})")
        names.add(name)
        plans.append(
            SchoolPlan(
                index=index,
                urn=URN_BASE + index + 1,
                name=name,
                phase="secondary" if secondary else "primary",
                establishment_number=f"{number:04d}",
                place=place,
                learners=max(1, round(learners * scale)),
            )
        )
    return plans


# --- one school ----------------------------------------------------------------------------------


@dataclass
class Family:
    heritages: tuple[str, ...]
    ethnicity: str
    language: str
    religion: str | None
    surname: str
    address: tuple[str, str, str, str]  # line1, line2, town, postcode
    house: int
    fsm: str  # "" | "current" | "former"
    contacts: list[tuple[str, str, bool, bool]] = field(default_factory=list)  # (sid, relationship, pr, lives with)
    children: int = 0


@dataclass(slots=True)
class Learner:
    year_group: str
    year_number: int  # R = 0
    gender: str
    family: Family
    forename: str
    surname: str
    sid: str = ""
    entry: date = date.min
    first_day: int = 0  # index of the first school day this year the learner is on roll
    absence_rate: float = 0.0
    excluded: dict[int, tuple[bool, bool]] = field(default_factory=dict)  # day -> (AM, PM) excluded
    groups: list[str] = field(default_factory=list)
    classes: list[tuple[str, int]] = field(default_factory=list)  # (group sid, subject index)


def _row(record_type: str, **values: Any) -> tuple[Any, ...]:
    columns = COLUMNS[record_type]
    unknown = set(values) - set(columns)
    if unknown:
        raise KeyError(f"{record_type} has no field {sorted(unknown)}")
    return tuple(values.get(c) for c in columns)


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def _female_surname(surname: str, heritage: str) -> str:
    if heritage == "polish" and surname.endswith(("ski", "cki", "dzki")):
        return surname[:-1] + "a"
    return surname


def _landline(rng: random.Random) -> str:
    return f"01632 960{rng.randrange(1000):03d}"


def _mobile(rng: random.Random) -> str:
    return f"07700 900{rng.randrange(1000):03d}"


class School:
    """All of one school's records; session and lesson attendance are generated on demand."""

    def __init__(self, plan: SchoolPlan, *, seed: int, calendar: Calendar) -> None:
        self.plan = plan
        self.seed = seed
        self.calendar = calendar
        self.year = calendar.year
        self.days = list(calendar.days)
        self.day_text = [d.isoformat() for d in self.days]
        # The school year's first and last days (the first may be after an `as_at` in early
        # September) and the last day the data records anything on.
        self.start, self.end = term_start(self.year), calendar.year_days[-1]
        self.last = self.days[-1]
        self.domain = f"{plan.slug}.example.invalid"
        self.tables: dict[str, list[tuple[Any, ...]]] = {t: [] for t in COLUMNS}
        self.learners: list[Learner] = []
        self.timetable: dict[tuple[int, int], list[tuple[int, int]]] = {}  # (year, subject) -> [(weekday, period)]
        self.sample_week = self._sample_week()
        self._staff()
        self._learners_and_contacts()
        self._groups()
        self._enrolments()
        self._exclusions()
        self._needs_and_entitlements()
        self._behaviours_and_achievements()
        self._homework()
        self._diary()
        self._school_details()

    def rng(self, part: str) -> random.Random:
        return random.Random(f"{self.seed}:{self.plan.urn}:{part}")  # synthetic data, not secrets  # nosec B311

    @property
    def secondary(self) -> bool:
        return self.plan.phase == "secondary"

    def _add(self, record_type: str, **values: Any) -> None:
        self.tables[record_type].append(_row(record_type, **values))

    def _sample_week(self) -> list[int]:
        """Indexes of the school days of one full school week, for lesson attendance: the first of
        October for a whole year, the last before `as_at` otherwise (the portal shows recent lessons)."""
        index = {d: i for i, d in enumerate(self.days)}
        step = timedelta(days=7)
        if self.calendar.as_at is None:
            monday = _on_or_after(date(self.year, 10, 1), 0)
        else:
            monday, step = _on_or_before(self.last, 0), -step
        while not all(monday + timedelta(days=k) in index for k in range(5)):
            monday += step
        return [index[monday + timedelta(days=k)] for k in range(5)]

    def _address(self, rng: random.Random, place: Place | None = None) -> tuple[str, str, str, str]:
        if place is None:
            place = self.plan.place if rng.random() < 0.8 else rng.choice(PLACES)
        line1 = f"{rng.randint(1, 180)} {rng.choice(STREETS)}"
        line2 = place.name if place.name != place.town else ""
        letters = rng.choice(POSTCODE_LETTERS) + rng.choice(POSTCODE_LETTERS)
        postcode = f"{rng.choice(place.districts)} {rng.randint(0, 9)}{letters}"
        return line1, line2, place.town, postcode

    def _date_between(self, rng: random.Random, start: date, end: date) -> date:
        return start + timedelta(days=rng.randint(0, max(0, (end - start).days)))

    def _school_day(self, rng: random.Random, first: int = 0) -> int:
        return rng.randrange(first, len(self.days))

    # staff

    def _staff(self) -> None:
        rng = self.rng("staff")
        learners = self.plan.learners
        count = max(6, math.ceil(learners / 12))
        if self.secondary:
            leaders = ["Headteacher", "Deputy Headteacher", "Deputy Headteacher"] + ["Assistant Headteacher"] * 3
            teachers = max(1, round(count * 0.6)) - len(leaders)
            support = ["SENCo", "School Business Manager", "Exams Officer", "Data Manager", "Site Manager"]
            roles = leaders + ["Teacher"] * teachers + support
            fill: tuple[str, ...] = ("Teaching Assistant", "Cover Supervisor", "Administrator", "Technician", "Cleaner")
            fill_weights: tuple[int, ...] = (45, 10, 20, 10, 15)
        else:
            classes = max(1, math.ceil(learners / 30))
            roles = ["Headteacher", "Deputy Headteacher", "SENCo"] + ["Class Teacher"] * classes
            roles += ["School Business Manager", "Administrator", "Site Manager"]
            fill = ("Teaching Assistant", "Midday Supervisor", "Administrator")
            fill_weights = (70, 25, 5)
        while len(roles) < count:
            roles.append(rng.choices(fill, weights=fill_weights)[0])
        teaching = {"Headteacher", "Deputy Headteacher", "Assistant Headteacher", "Teacher", "Class Teacher", "SENCo"}
        emails: set[str] = set()
        ni_numbers: set[str] = set()
        teacher_numbers: set[str] = set()
        for number, role in enumerate(roles, start=1):
            sid = f"ST{number:05d}"
            female = rng.random() < (0.64 if self.secondary and role in teaching else 0.85)
            heritage = _pick(
                rng,
                (
                    ("british", 85),
                    ("irish", 2),
                    ("polish", 3),
                    ("indian", 3),
                    ("pakistani", 2),
                    ("caribbean", 2),
                    ("west_african", 2),
                    ("chinese", 1),
                ),
            )
            pool = HERITAGE[heritage]
            forename = rng.choice(pool.women if female else pool.men)
            surname = rng.choice(pool.surnames)
            if female:
                surname = _female_surname(surname, heritage)
            title = _pick(
                rng, (("Mrs", 50), ("Ms", 28), ("Miss", 18), ("Dr", 4)) if female else (("Mr", 96), ("Dr", 4))
            )
            nickname = NICKNAMES.get(forename) if rng.random() < 0.5 else None
            age = rng.randint(36, 62) if role.endswith("Headteacher") else rng.randint(23, 63)
            born = self._date_between(rng, date(self.year - age - 1, 9, 1), date(self.year - age, 8, 31))
            email = f"{_ascii(forename)[0]}.{_ascii(surname).replace(' ', '')}"
            while f"{email}@{self.domain}" in emails:
                email += str(rng.randint(1, 9))
            emails.add(f"{email}@{self.domain}")
            ni = ""
            while not ni or ni in ni_numbers:
                ni = f"QQ{rng.randrange(10**6):06d}{rng.choice('ABCD')}"
            ni_numbers.add(ni)
            trn = None
            if role in teaching:
                while trn is None or trn in teacher_numbers:
                    trn = f"{rng.randrange(10**6, 10**7)}"
                teacher_numbers.add(trn)
            started = self._date_between(rng, max(born + timedelta(days=22 * 365), date(1998, 9, 1)), self.start)
            if number == 1:
                self.head_teacher = f"{title} {forename} {surname}"
            self._add(
                "staff",
                source_id=sid,
                title=title,
                forename=forename,
                surname=surname,
                preferred_forename=nickname,
                date_of_birth=born.isoformat(),
                gender="F" if female else "M",
                ni_number=ni,
                teacher_number=trn,
                email=f"{email}@{self.domain}",
            )
            self._staff_assignments(rng, sid, role, started)
            self._staff_contracts(rng, sid, role, started, teaching=role in teaching)

    def _staff_assignments(self, rng: random.Random, sid: str, role: str, started: date) -> None:
        rows = self.tables["staff-assignments"]
        if role == "Teacher":
            role = f"Teacher of {rng.choice(SUBJECTS)[0]}"
        if role.startswith("Teacher") and rng.random() < 0.1:
            earlier = self._date_between(rng, started + timedelta(days=60), self.start - timedelta(days=30))
            rows.append(
                _row(
                    "staff-assignments",
                    source_id=f"STA{len(rows) + 1:05d}",
                    staff_source_id=sid,
                    role="Cover Supervisor",
                    start_date=started.isoformat(),
                    end_date=(earlier - timedelta(days=1)).isoformat(),
                )
            )
            started = earlier
        rows.append(
            _row(
                "staff-assignments",
                source_id=f"STA{len(rows) + 1:05d}",
                staff_source_id=sid,
                role=role,
                start_date=started.isoformat(),
            )
        )
        if role.startswith("Teacher of") and rng.random() < 0.15:
            rows.append(
                _row(
                    "staff-assignments",
                    source_id=f"STA{len(rows) + 1:05d}",
                    staff_source_id=sid,
                    role=f"Head of {role.removeprefix('Teacher of ')}",
                    start_date=self._date_between(rng, started, self.start).isoformat(),
                )
            )

    def _staff_contracts(self, rng: random.Random, sid: str, role: str, started: date, *, teaching: bool) -> None:
        rows = self.tables["staff-contracts"]
        leader = role in {"Headteacher", "Deputy Headteacher", "Assistant Headteacher", "School Business Manager"}
        kind = "PRM" if leader else _pick(rng, (("PRM", 85), ("FXT", 11), ("TMP", 4)))
        start, end = started, None
        if kind == "FXT":
            start, end = self.start - timedelta(days=2), date(self.year + 1, 8, 31)
        elif kind == "TMP":
            start = self.days[self._school_day(rng)]
            end = start + timedelta(days=rng.choice((28, 42, 60, 90)))
        if leader or teaching:
            fte = (
                "1.000"
                if leader
                else _pick(rng, (("1.000", 70), ("0.800", 12), ("0.600", 10), ("0.500", 5), ("0.400", 3)))
            )
        else:
            fte = f"{rng.randint(400, 1000) / 1000:.3f}"
        post = "Teacher" if role in {"Teacher", "Class Teacher"} else role
        rows.append(
            _row(
                "staff-contracts",
                source_id=f"STC{len(rows) + 1:05d}",
                staff_source_id=sid,
                contract_type=kind,
                post=post,
                start_date=start.isoformat(),
                end_date=end.isoformat() if end else None,
                fte=fte,
            )
        )
        if not teaching and not leader and rng.random() < 0.1:
            rows.append(
                _row(
                    "staff-contracts",
                    source_id=f"STC{len(rows) + 1:05d}",
                    staff_source_id=sid,
                    contract_type="PRM",
                    post="Midday Supervisor",
                    start_date=started.isoformat(),
                    fte="0.150",
                )
            )

    # learners, families and contacts

    def _year_groups(self) -> list[tuple[str, int]]:
        return (
            [(str(n), n) for n in range(7, 12)] if self.secondary else [("R", 0)] + [(str(n), n) for n in range(1, 7)]
        )

    def _new_family(self, rng: random.Random) -> Family:
        code, _, heritages, mixed = rng.choices(ETHNICITIES, weights=[e[1] for e in ETHNICITIES])[0]
        chosen = tuple(h for h, _ in heritages) if mixed else (_pick(rng, heritages),)
        language = "ENG" if mixed else _pick(rng, HERITAGE[chosen[0]].languages)
        surname_heritage = rng.choice(chosen)
        family = Family(
            heritages=chosen,
            ethnicity=code,
            language=language,
            religion=_pick(rng, HERITAGE[rng.choice(chosen)].religions) if rng.random() < 0.55 else None,
            surname=rng.choice(HERITAGE[surname_heritage].surnames),
            address=self._address(rng),
            house=rng.randrange(len(HOUSES)),
            fsm="current" if rng.random() < 0.24 else ("former" if rng.random() < 0.05 else ""),
        )
        self._family_contacts(rng, family, surname_heritage)
        return family

    def _family_contacts(self, rng: random.Random, family: Family, surname_heritage: str) -> None:
        count = rng.choices((1, 2, 3), weights=(20, 65, 15))[0]
        shape: list[tuple[str, str, bool, bool]] = []  # (relationship, gender, responsibility, lives with)
        first = _pick(rng, (("mother", 88), ("father", 9), ("carer", 3)))
        if first == "carer":
            shape.append(("CAR", rng.choice("FM"), rng.random() < 0.6, True))
        else:
            shape.append(("PAR", "F" if first == "mother" else "M", True, True))
        if count >= 2:
            if rng.random() < 0.85:
                shape.append(("PAR", "M" if shape[0][1] == "F" else "F", True, rng.random() < 0.75))
            else:
                shape.append(("STP", "M" if shape[0][1] == "F" else "F", rng.random() < 0.3, True))
        if count >= 3:
            shape.append(("FAM", rng.choice("FM"), False, rng.random() < 0.1))
        for relationship, gender, responsibility, lives_with in shape:
            heritage = rng.choice(family.heritages)
            pool = HERITAGE[heritage]
            forename = rng.choice(pool.women if gender == "F" else pool.men)
            surname = family.surname if rng.random() < 0.75 else rng.choice(HERITAGE[surname_heritage].surnames)
            if gender == "F":
                surname = _female_surname(surname, surname_heritage)
            title = _pick(
                rng, (("Mrs", 55), ("Ms", 25), ("Miss", 18), ("Dr", 2)) if gender == "F" else (("Mr", 97), ("Dr", 3))
            )
            address = family.address if lives_with else self._address(rng)
            if rng.random() < 0.8:
                local = f"{_ascii(forename)}.{_ascii(surname)}".replace(" ", "")
                if rng.random() < 0.5:
                    local += str(rng.randint(1, 99))
                domain = rng.choice(("mail.example.invalid", "inbox.example.invalid", "post.example.invalid"))
                email = f"{local}@{domain}"
            else:
                email = None
            sid = f"C{len(self.tables['contacts']) + 1:06d}"
            self._add(
                "contacts",
                source_id=sid,
                title=title,
                forename=forename,
                surname=surname,
                gender=gender,
                address_line1=address[0],
                address_line2=address[1] or None,
                town=address[2],
                postcode=address[3],
                email=email,
                email_alternative=f"{_ascii(forename)[0]}{rng.randint(100, 999)}@work.example.invalid"
                if rng.random() < 0.05
                else None,
                phone_home=_landline(rng) if rng.random() < 0.35 else None,
                phone_mobile=_mobile(rng) if rng.random() < 0.95 else None,
                phone_work=_landline(rng) if rng.random() < 0.2 else None,
            )
            family.contacts.append((sid, relationship, responsibility, lives_with))

    def _learners_and_contacts(self) -> None:
        rng = self.rng("learners")
        years = self._year_groups()
        total = self.plan.learners
        slots = [years[i * len(years) // total] if total >= len(years) else years[i % len(years)] for i in range(total)]
        rng.shuffle(slots)
        families: list[Family] = []
        for year_group, number in slots:
            open_families = [f for f in families[-60:] if f.children < 3]
            family = rng.choice(open_families) if open_families and rng.random() < 0.3 else None
            if family is None:
                family = self._new_family(rng)
                families.append(family)
            family.children += 1
            gender = rng.choice("MF")
            pool = HERITAGE[rng.choice(family.heritages)]
            forename = rng.choice(pool.boys if gender == "M" else pool.girls)
            surname = family.surname if gender == "M" else _female_surname(family.surname, family.heritages[0])
            self.learners.append(Learner(year_group, number, gender, family, forename, surname))
        self.learners.sort(key=lambda lr: (lr.year_number, _ascii(lr.surname), _ascii(lr.forename)))
        serials: dict[int, int] = {}
        emails: set[str] = set()
        for position, learner in enumerate(self.learners, start=1):
            learner.sid = f"L{position:06d}"
            self._learner_row(rng, learner, serials, emails)
        links = self.tables["learner-contacts"]
        for learner in self.learners:
            for priority, (cid, relationship, responsibility, lives_with) in enumerate(learner.family.contacts, 1):
                links.append(
                    _row(
                        "learner-contacts",
                        source_id=f"LC{len(links) + 1:06d}",
                        learner_source_id=learner.sid,
                        contact_source_id=cid,
                        relationship=relationship,
                        parental_responsibility="true" if responsibility else "false",
                        priority=priority,
                        lives_with="true" if lives_with else "false",
                    )
                )

    def _learner_row(self, rng: random.Random, learner: Learner, serials: dict[int, int], emails: set[str]) -> None:
        family = learner.family
        number = learner.year_number
        born = self._date_between(rng, date(self.year - 5 - number, 9, 1), date(self.year - 4 - number, 8, 31))
        normal_entry = term_start(self.year - (number - (7 if self.secondary else 0)))
        roll = rng.random()
        if roll < 0.04 and len(self.days) > 30:  # joined during this year
            learner.first_day = rng.randrange(10, len(self.days) - 15)
            learner.entry = self.days[learner.first_day]
        elif roll < 0.14 and normal_entry < self.start:  # joined in an earlier year, mid-phase
            entry = self._date_between(rng, normal_entry + timedelta(days=20), self.start - timedelta(days=30))
            learner.entry = entry + timedelta(days=(7 - entry.weekday()) % 7 if entry.weekday() >= 5 else 0)
        else:
            learner.entry = normal_entry
        learner.first_day = bisect.bisect_left(self.days, learner.entry)  # len(days): not on roll yet
        serials[learner.entry.year] = serials.get(learner.entry.year, 0) + 1
        upn = make_upn(LA_CODE, self.plan.establishment_number, learner.entry.year, serials[learner.entry.year])
        former = None
        if rng.random() < 0.005:
            former = make_upn(
                rng.choice(("882", "883", "909")),
                f"{rng.randint(2001, 2999)}",
                rng.randint(self.year - 10, self.year - 1),
                rng.randint(1, 999),
            )
        pool = HERITAGE[rng.choice(family.heritages)]
        middle = rng.choice(pool.boys if learner.gender == "M" else pool.girls) if rng.random() < 0.5 else None
        nickname = NICKNAMES.get(learner.forename) if rng.random() < 0.6 else None
        phone = email = None
        if self.secondary:
            phone = _mobile(rng) if rng.random() < 0.4 else None
            local = f"{learner.entry.year % 100:02d}{_ascii(learner.forename)[0]}{_ascii(learner.surname)}"
            local = local.replace(" ", "")
            while local in emails:
                local += str(rng.randint(0, 9))
            emails.add(local)
            email = f"{local}@{self.domain}"
        line1, line2, town, postcode = family.address
        self._add(
            "learners",
            source_id=learner.sid,
            upn=upn,
            former_upn=former,
            legal_forename=learner.forename,
            middle_names=middle if middle != learner.forename else None,
            legal_surname=learner.surname,
            preferred_forename=nickname,
            date_of_birth=born.isoformat(),
            gender=learner.gender,
            ethnicity=family.ethnicity,
            first_language=family.language,
            address_line1=line1,
            address_line2=line2 or None,
            town=town,
            postcode=postcode,
            phone=phone,
            email=email,
        )
        tier = rng.random()
        low, high = (0.01, 0.05) if tier < 0.7 else ((0.05, 0.12) if tier < 0.92 else (0.12, 0.35))
        learner.absence_rate = rng.uniform(low, high)

    # groups and enrolments

    def _group(self, name: str, code: str, group_type: str, subject: str | None = None) -> str:
        rows = self.tables["groups"]
        sid = f"G{len(rows) + 1:05d}"
        rows.append(
            _row(
                "groups",
                source_id=sid,
                name=name,
                code=code,
                group_type=group_type,
                subject=subject,
                start_date=self.start.isoformat(),
                end_date=self.end.isoformat(),
            )
        )
        return sid

    def _groups(self) -> None:
        rng = self.rng("groups")
        houses = [self._group(f"{h} House", h[:3].upper(), "house") for h in HOUSES]
        by_year: dict[int, list[Learner]] = {}
        for learner in self.learners:
            by_year.setdefault(learner.year_number, []).append(learner)
        trees = iter(TREES * 4)
        for year_group, number in self._year_groups():
            members = by_year.get(number, [])
            label = "Reception" if number == 0 else f"Year {number}"
            year_sid = self._group(label, f"Y{year_group}", "year")
            for learner in members:
                learner.groups += [year_sid, houses[learner.family.house]]
            if not members:
                continue
            size = 28 if self.secondary else 30
            forms = math.ceil(len(members) / size)
            shuffled = members[:]
            rng.shuffle(shuffled)
            for form in range(forms):
                if self.secondary:
                    letter = "ABCDEFGHJK"[form]
                    sid = self._group(f"{year_group}{letter}", f"{year_group}{letter}", "registration")
                else:
                    tree = next(trees)
                    sid = self._group(f"{label} {tree}", f"{year_group}{tree[:3].upper()}", "registration")
                for learner in shuffled[form::forms]:
                    learner.groups.insert(0, sid)
            if self.secondary:
                self._classes(rng, year_group, number, members)
            self._teaching_groups(rng, label, year_group, number, members)

    def _classes(self, rng: random.Random, year_group: str, number: int, members: list[Learner]) -> None:
        slots = [(day, period) for day in range(5) for period in range(len(PERIODS))]
        rng.shuffle(slots)
        takers: dict[int, list[Learner]] = {s: [] for s in range(len(SUBJECTS))}
        for learner in members:
            options = rng.sample(range(CORE_SUBJECTS, len(SUBJECTS)), k=rng.randint(1, 5))
            for subject in [*range(CORE_SUBJECTS), *sorted(options)]:
                takers[subject].append(learner)
        for subject, (name, code) in enumerate(SUBJECTS):
            self.timetable[number, subject] = sorted(slots[2 * subject : 2 * subject + 2])
            group = takers[subject]
            if not group:
                continue
            sets = math.ceil(len(group) / 30)
            rng.shuffle(group)
            for k in range(sets):
                sid = self._group(f"{year_group}{code}{k + 1} {name}", f"{year_group}{code}{k + 1}", "class", name)
                for learner in group[k::sets]:
                    learner.classes.append((sid, subject))
        for learner in members:
            learner.classes.sort(key=lambda c: c[1])
            learner.groups += [sid for sid, _ in learner.classes]

    def _teaching_groups(
        self, rng: random.Random, label: str, year_group: str, number: int, members: list[Learner]
    ) -> None:
        if self.secondary and number in (7, 8):
            chosen = [lr for lr in members if rng.random() < 0.1]
            if chosen:
                sid = self._group(f"{label} Literacy Catch-up", f"{year_group}LIT", "teaching", "English")
                for learner in chosen:
                    learner.groups.append(sid)
        elif not self.secondary and number <= 2:
            phases = (("Phase 2", "Phase 3"), ("Phase 3", "Phase 4"), ("Phase 5", "Phase 6"))[number]
            sids = [
                self._group(f"{label} Phonics {p}", f"{year_group}PH{p[-1]}", "teaching", "Phonics") for p in phases
            ]
            for learner in members:
                learner.groups.append(rng.choice(sids))
        elif not self.secondary and number == 6:
            chosen = [lr for lr in members if rng.random() < 0.2]
            if chosen:
                sid = self._group("Year 6 Maths Booster", "6MAB", "teaching", "Mathematics")
                for learner in chosen:
                    learner.groups.append(sid)

    def _enrolments(self) -> None:
        members: dict[str, list[Learner]] = {}
        for learner in self.learners:
            for sid in learner.groups:
                members.setdefault(sid, []).append(learner)
            self._add(
                "school-enrolments",
                source_id=f"E{len(self.tables['school-enrolments']) + 1:06d}",
                learner_source_id=learner.sid,
                entry_date=learner.entry.isoformat(),
                enrolment_status="C",
                year_group=learner.year_group,
            )
        rows = self.tables["group-enrolments"]
        for group in self.tables["groups"]:
            for learner in members.get(group[0], []):
                start = max(learner.entry, self.start)
                rows.append(
                    _row(
                        "group-enrolments",
                        source_id=f"GE{len(rows) + 1:06d}",
                        group_source_id=group[0],
                        learner_source_id=learner.sid,
                        start_date=start.isoformat(),
                    )
                )

    # events

    def _exclusions(self) -> None:
        rng = self.rng("exclusions")
        rates = (0.07, 0.012, 0.002) if self.secondary else (0.012, 0.003, 0.0003)
        for learner in self.learners:
            if learner.first_day >= len(self.days):
                continue  # joins after the data's last day
            for kind, rate in zip(("FIXD", "LNCH", "PERM"), rates, strict=True):
                repeats = rng.choices((1, 2, 3), weights=(70, 22, 8))[0] if kind == "FIXD" else 1
                for _ in range(repeats):
                    if rng.random() >= rate:
                        continue
                    self._exclusion(rng, learner, kind)

    def _exclusion(self, rng: random.Random, learner: Learner, kind: str) -> None:
        days = len(self.days)
        if kind == "PERM":
            first = max(learner.first_day, days - rng.randint(3, 10))
            span = [(i, s) for i in range(first, days) for s in (0, 1)]
            end = None
        elif kind == "LNCH":
            first, span = self._school_day(rng, learner.first_day), []
            end = self.days[first]
        else:
            first = self._school_day(rng, learner.first_day)
            count = min(rng.randint(1, 10), 2 * (days - first))
            span = [(first + k // 2, k % 2) for k in range(count)]
            end = self.days[span[-1][0]]
        if any(i in learner.excluded for i, _ in span):
            return
        for i, session in span:
            am, pm = learner.excluded.get(i, (False, False))
            learner.excluded[i] = (am or session == 0, pm or session == 1)
        sessions = f"{len(span):.1f}" if span else "1.0"
        category = rng.choices(EXCLUSION_CATEGORIES, weights=EXCLUSION_WEIGHTS)[0]
        self._add(
            "exclusions",
            source_id=f"X{len(self.tables['exclusions']) + 1:05d}",
            learner_source_id=learner.sid,
            exclusion_type=kind,
            category=category,
            start_date=self.day_text[first],
            end_date=end.isoformat() if end else None,
            sessions=sessions,
        )

    def _needs_and_entitlements(self) -> None:
        rng = self.rng("needs")
        for learner in self.learners:
            roll = rng.random()
            provision = "E" if roll < 0.025 else ("K" if roll < 0.155 else None)
            since = max(learner.entry, self.start - timedelta(days=3 * 365))
            if provision:
                needs = rng.choices(SEN_NEEDS, weights=SEN_NEED_WEIGHTS[provision], k=2)
                need_types = needs[0] if rng.random() < 0.75 or needs[0] == needs[1] else "|".join(needs)
                self._add(
                    "special-needs",
                    source_id=f"SEN{len(self.tables['special-needs']) + 1:05d}",
                    learner_source_id=learner.sid,
                    provision=provision,
                    need_types=need_types,
                    start_date=self._date_between(rng, since, self.last).isoformat(),
                )
            elif rng.random() < 0.03:  # support that has ended
                start = self._date_between(rng, since, self.last - timedelta(days=60))
                self._add(
                    "special-needs",
                    source_id=f"SEN{len(self.tables['special-needs']) + 1:05d}",
                    learner_source_id=learner.sid,
                    provision="K",
                    need_types=rng.choice(("SLCN", "SPLD", "SEMH")),
                    start_date=start.isoformat(),
                    end_date=self._date_between(rng, start + timedelta(days=30), self.last).isoformat(),
                )
        rows = self.tables["entitlements"]
        for learner in self.learners:
            fsm = learner.family.fsm
            if not fsm:
                continue
            start = self._date_between(rng, max(learner.entry, self.start - timedelta(days=4 * 365)), self.last)
            end = None
            if fsm == "former":
                start = self._date_between(rng, learner.entry - timedelta(days=365), min(self.start, self.last))
                end = self._date_between(
                    rng, start + timedelta(days=60), min(self.start + timedelta(days=200), self.last)
                )
            rows.append(
                _row(
                    "entitlements",
                    source_id=f"ENT{len(rows) + 1:05d}",
                    learner_source_id=learner.sid,
                    entitlement_type="FSM",
                    start_date=start.isoformat(),
                    end_date=end.isoformat() if end else None,
                )
            )
            rows.append(
                _row(
                    "entitlements",
                    source_id=f"ENT{len(rows) + 1:05d}",
                    learner_source_id=learner.sid,
                    entitlement_type="PP",
                    start_date=max(start, self.start).isoformat(),
                )
            )

    def _behaviours_and_achievements(self) -> None:
        rng = self.rng("behaviour")
        if self.secondary:
            counts: tuple[int, ...] = (0, 1, 2, 3, 5, 8, 12)
            weights: tuple[int, ...] = (35, 20, 15, 10, 10, 6, 4)
        else:
            counts, weights = (0, 1, 2, 3, 4, 6), (55, 20, 10, 7, 5, 3)
        kinds = BEHAVIOURS[self.plan.phase]
        behaviours, achievements = self.tables["behaviours"], self.tables["achievements"]
        for learner in self.learners:
            if learner.first_day >= len(self.days):
                continue  # joins after the data's last day
            for _ in range(rng.choices(counts, weights=weights)[0]):
                kind, points = rng.choice(kinds)
                behaviours.append(
                    _row(
                        "behaviours",
                        source_id=f"B{len(behaviours) + 1:06d}",
                        learner_source_id=learner.sid,
                        behaviour_type=kind,
                        activity_type=rng.choice(BEHAVIOUR_ACTIVITIES),
                        location=rng.choice(BEHAVIOUR_LOCATIONS),
                        role="Perpetrator" if rng.random() < 0.9 else "Instigator",
                        points=points,
                        comments=rng.choice(BEHAVIOUR_COMMENTS) or None,
                        event_date=self.day_text[self._school_day(rng, learner.first_day)],
                    )
                )
            for _ in range(rng.randint(1, 12) if self.secondary else rng.randint(0, 8)):
                kind, points = rng.choice(ACHIEVEMENTS)
                achievements.append(
                    _row(
                        "achievements",
                        source_id=f"A{len(achievements) + 1:06d}",
                        learner_source_id=learner.sid,
                        achievement_type=kind,
                        activity_type=rng.choice(ACHIEVEMENT_ACTIVITIES),
                        points=points,
                        comments=rng.choice(ACHIEVEMENT_COMMENTS) or None,
                        event_date=self.day_text[self._school_day(rng, learner.first_day)],
                    )
                )

    def _homework(self) -> None:
        rng = self.rng("homework")
        wanted = "class" if self.secondary else "registration"
        terms: list[list[int]] = [[], [], []]
        for i, day in enumerate(self.days):
            if day >= self.start:  # this school year's, not last year's
                terms[0 if day.month >= 9 else (1 if day.month <= 3 else 2)].append(i)
        # As at a day: some set in the last week of school days, so some is due around then.
        recent = sorted(i for term in terms for i in term)[-5:] if self.calendar.as_at else []
        rows = self.tables["homework"]
        for group in self.tables["groups"]:
            sid, name, _code, group_type, subject = group[:5]
            if group_type != wanted:
                continue
            topics = HOMEWORK_TOPICS[subject or "Primary"]
            for term in [*terms, recent]:
                count = (rng.randint(1, 2) if term is recent else rng.randint(2, 4)) if term else 0
                for _ in range(count):
                    set_day = self.days[rng.choice(term)]
                    topic = rng.choice(topics)
                    rows.append(
                        _row(
                            "homework",
                            source_id=f"HW{len(rows) + 1:05d}",
                            group_source_id=sid,
                            title=topic,
                            description=f"{name}: {topic}. Hand in by the due date.",
                            subject=subject or "General",
                            set_date=set_day.isoformat(),
                            due_date=(set_day + timedelta(days=7)).isoformat(),
                        )
                    )

    def _diary(self) -> None:
        """This school year's diary; in the summer holiday after it, next year's as well."""
        events = self._diary_year(self.rng("diary"), self.year, list(self.calendar.year_days))
        as_at = self.calendar.as_at
        if as_at is not None and as_at > self.end:
            events += self._diary_year(self.rng(f"diary:{self.year + 1}"), self.year + 1, school_days(self.year + 1))
        events.sort()
        for day, start, end, description, category in events:
            self._add(
                "diary-events",
                source_id=f"D{len(self.tables['diary-events']) + 1:05d}",
                description=description,
                category=category,
                starts_at=_datetime(day, start),
                ends_at=_datetime(day, end) if end else None,
            )

    def _diary_year(self, rng: random.Random, year: int, days: list[date]) -> list[tuple[date, str, str, str, str]]:
        """(day, start, end or "", description, category) of the events of the school year `year`."""
        events: list[tuple[date, str, str, str, str]] = []

        def on(day: date, start: str, end: str | None, description: str, category: str) -> None:
            events.append((day, start, end or "", description, category))

        # INSET days: the two before term starts and the first day of each half-term holiday.
        closures = [days[0] - timedelta(days=2), days[0] - timedelta(days=1)]
        closures += [start for start, end in holidays(year) if (end - start).days == 4]
        for day in closures:
            on(day, "08:30", "15:30", "INSET day - school closed to pupils", "Closure")
        # The term dates, which every diary has, so that the weeks around a holiday are never empty
        # (no random draw: the rest of the diary is unchanged).
        breaks = [(start, end) for start, end in holidays(year) if (end - start).days > 4]
        for day in [max(d for d in days if d < start) for start, _ in breaks] + [days[-1]]:
            on(day, "08:45", "13:30", "Last day of term - school closes at 13:30", "Term dates")
        for day in [min(d for d in days if d > end) for _, end in breaks]:
            on(day, "08:45", None, "First day of term", "Term dates")
        for month in (10, 2, 6):
            day = days[rng.choice([i for i, d in enumerate(days) if d.month == month])]
            on(day, "15:30", "19:00", "Parents' evening", "Parents")
        for _ in range(6):
            on(days[rng.randrange(0, len(days))], "18:00", "20:00", "Full governing board meeting", "Governance")
        fixed = [
            (12, "Christmas performance", "14:00", "15:15", "Event"),
            (11, "Flu immunisations", "09:00", None, "Health"),
            (9, "School photographs", "09:00", "12:00", "Event"),
            (7, "Sports day", "13:15", "15:00", "Event"),
            (6, "Summer fair", "15:15", "17:30", "Event"),
            (3, "World Book Day", "08:45", None, "Event"),
            (11, "Non-uniform day - Children in Need", "08:45", None, "Event"),
        ]
        if self.secondary:
            fixed += [
                (10, "Open evening", "18:00", "20:30", "Event"),
                (12, "Year 11 mock exams begin", "09:00", None, "Exams"),
                (5, "GCSE examinations begin", "09:00", None, "Exams"),
                (7, "Year 7 transition day", "08:45", "15:00", "Event"),
            ]
        else:
            fixed += [
                (5, "Year 6 SATs week", "09:00", None, "Exams"),
                (6, "Reception induction for September", "09:30", "11:30", "Event"),
                (6, "Year 1 phonics screening check", "09:00", None, "Exams"),
            ]
        for month, description, start, end, category in fixed:
            day = days[rng.choice([i for i, d in enumerate(days) if d.month == month])]
            on(day, start, end, description, category)
        places = (
            "Colchester Zoo",
            "the Natural History Museum",
            "Hylands Park",
            "Mersea Island",
            "the Science Museum",
            "Audley End House",
            "Hadleigh Castle",
            "the Tower of London",
            "Epping Forest",
        )
        for _, number in self._year_groups():
            label = "Reception" if number == 0 else f"Year {number}"
            for _ in range(rng.randint(1, 3)):
                day = days[rng.randrange(0, len(days))]  # before the place: the order of the draws
                on(day, "08:45", "15:30", f"{label} trip to {rng.choice(places)}", "Trip")
        return events

    def _school_details(self) -> None:
        rng = self.rng("school")
        line1, line2, town, postcode = self._address(rng, self.plan.place)
        self.tables["school-details"].append(
            _row(
                "school-details",
                source_id="school",
                name=self.plan.name,
                address_line1=line1.split(" ", 1)[1],
                address_line2=line2 or None,
                town=town,
                postcode=postcode,
                head_teacher=self.head_teacher,
                email=f"office@{self.domain}",
                website=f"https://www.{self.domain}/",
                phone=_landline(rng),
            )
        )

    # attendance

    def day_marks(self, learner: Learner) -> Iterator[tuple[int, Mark, Mark]]:
        """(school day index, AM mark, PM mark) for each day the learner is on roll; a mark is
        (code, minutes late, comment). From the learner's own random stream, so it can be replayed."""
        rng = random.Random(f"{self.seed}:{self.plan.urn}:attendance:{learner.sid}")  # synthetic data, not secrets  # nosec B311
        r = rng.random
        rate = learner.absence_rate
        excluded = learner.excluded
        for i in range(learner.first_day, len(self.days)):
            am, pm = PRESENT_AM, PRESENT_PM
            if r() < rate:
                code = rng.choices(ABSENCE_CODES, weights=ABSENCE_WEIGHTS)[0]
                comment = rng.choice(ABSENCE_COMMENTS[code]) if r() < 0.4 else None
                if code == "L":
                    am = ("L", rng.randint(1, 20), comment)
                elif code == "U":
                    am = ("U", rng.randint(21, 45), comment)
                else:
                    which = r()
                    if which < 0.8 or code == "G":
                        am = pm = (code, None, comment)
                    elif which < 0.9:
                        am = (code, None, comment)
                    else:
                        pm = (code, None, comment)
            if excluded and i in excluded:
                am_e, pm_e = excluded[i]
                am = ("E", None, None) if am_e else am
                pm = ("E", None, None) if pm_e else pm
            yield i, am, pm

    def session_rows(self) -> Iterator[tuple[Any, ...]]:
        number = 0
        days = self.day_text
        for learner in self.learners:
            sid = learner.sid
            for i, am, pm in self.day_marks(learner):
                day = days[i]
                yield (f"SM{number + 1:07d}", sid, day, "AM", am[0], am[1], am[2])
                yield (f"SM{number + 2:07d}", sid, day, "PM", pm[0], pm[1], pm[2])
                number += 2

    def lesson_rows(self) -> Iterator[tuple[Any, ...]]:
        """One sample week of lesson marks (secondary classes), agreeing with the session marks."""
        number = 0
        week = self.sample_week
        for learner in self.learners:
            if not learner.classes or learner.first_day > week[0]:
                continue
            marks = {i: (am, pm) for i, am, pm in self.day_marks(learner) if week[0] <= i <= week[-1]}
            lessons = []
            for group_sid, subject in learner.classes:
                for weekday, period in self.timetable[learner.year_number, subject]:
                    lessons.append((week[weekday], period, group_sid))
            lessons.sort()
            for i, period, group_sid in lessons:
                start, end, session = PERIODS[period]
                code, late, comment = marks[i][session]
                if code in ("/", "\\") or (code in ("L", "U") and period != 0):
                    code, late, comment = "/", None, None
                number += 1
                yield (f"LM{number:07d}", learner.sid, group_sid, self.day_text[i], start, end, code, late, comment)

    def rows(self, record_type: str) -> Iterable[tuple[Any, ...]]:
        if record_type == "session-attendance":
            return self.session_rows()
        if record_type == "lesson-attendance":
            return self.lesson_rows()
        return self.tables[record_type]

    def source(self) -> dict[str, str]:
        return {
            "la_code": LA_CODE,
            "establishment_number": self.plan.establishment_number,
            "urn": str(self.plan.urn),
            "name": self.plan.name,
        }


# --- writing -------------------------------------------------------------------------------------

ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def _zip_member(name: str) -> zipfile.ZipInfo:
    """A member with a fixed timestamp and mode, so the archive depends only on its content."""
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3
    info.external_attr = 0o644 << 16
    return info


def _write_csv(archive: zipfile.ZipFile, name: str, header: Iterable[str], rows: Iterable[Iterable[Any]]) -> int:
    count = 0
    with archive.open(_zip_member(name), "w") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
        text.flush()
        text.detach()
    return count


def write_zip(school: School, path: Path) -> dict[str, int]:
    counts = {}
    with zipfile.ZipFile(path, "w") as archive:
        for record_type, columns in COLUMNS.items():
            counts[record_type] = _write_csv(archive, f"{record_type}.csv", columns, school.rows(record_type))
    return counts


def _ctf_records(record_type: str, rows: Iterable[tuple[Any, ...]]) -> Iterator[dict[str, Any]]:
    """Rows as write_ctf wants them: field-name dicts, blanks as None, lists as lists."""
    columns = COLUMNS[record_type]
    for row in rows:
        record: dict[str, Any] = {}
        for column, value in zip(columns, row, strict=True):
            if value is None or value == "":
                record[column] = None
            elif (record_type, column) in LIST_COLUMNS:
                record[column] = str(value).split("|")
            else:
                record[column] = str(value)
        yield record


def load_write_ctf() -> Callable[..., bytes]:
    """`steward.ingest.ctf.write_ctf`, imported late: it needs Django set up (from a plain script too)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steward.settings")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()
    from steward.ingest.ctf import write_ctf

    return write_ctf


def write_ctf_file(school: School, path: Path) -> bool:
    write_ctf = load_write_ctf()
    records = {t: _ctf_records(t, school.rows(t)) for t in CTF_TYPES}
    generated_at = datetime(school.last.year, school.last.month, school.last.day, 17, 0, tzinfo=UTC)
    path.write_bytes(write_ctf(source=school.source(), records=records, generated_at=generated_at))
    return True


def _generate_school(task: tuple[SchoolPlan, Path, int, Calendar, frozenset[str]]) -> dict[str, Any]:
    plan, out, seed, calendar, formats = task
    school = School(plan, seed=seed, calendar=calendar)
    files: list[str] = []
    counts: dict[str, int] = {}
    if "csv" in formats:
        counts = write_zip(school, out / f"{plan.urn}.zip")
        files.append(f"{plan.urn}.zip")
    if "ctf" in formats and write_ctf_file(school, out / f"{plan.urn}.ctf.xml"):
        files.append(f"{plan.urn}.ctf.xml")
    if not counts:
        counts = {t: sum(1 for _ in school.rows(t)) for t in COLUMNS}
    return {
        "urn": plan.urn,
        "name": plan.name,
        "la_code": LA_CODE,
        "establishment_number": plan.establishment_number,
        "phase": plan.phase,
        "learners": len(school.learners),
        "files": files,
        "rows": counts,
    }


def generate(
    out: Path,
    *,
    schools: int,
    seed: int,
    formats: set[str] | frozenset[str] = frozenset({"csv"}),
    year: int | None = None,
    today: date | None = None,
    scale: float = 1.0,
    jobs: int = 1,
) -> dict[str, Any]:
    """Write the LA's files into `out` and return the manifest (also written as `manifest.json`).

    `year`: that whole school year, as sent at its end; otherwise the MIS as it stands on `today`
    (by default the real date in England). `scale` multiplies school sizes (for quick tests);
    `jobs` > 1 generates schools in parallel processes, which changes nothing in the output.
    """
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown format(s) {sorted(unknown)}; expected some of {', '.join(FORMATS)}")
    if year is not None and today is not None:
        raise ValueError("give a whole school year or the day the data is as at, not both")
    calendar = Calendar.whole_year(year) if year is not None else Calendar.on(today or london_today())
    out.mkdir(parents=True, exist_ok=True)
    plans = plan_schools(schools, seed=seed, scale=scale)
    tasks = [(plan, out, seed, calendar, frozenset(formats)) for plan in plans]
    if jobs > 1 and schools > 1:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(min(jobs, schools)) as pool:
            entries = list(pool.imap(_generate_school, tasks))
    else:
        entries = [_generate_school(task) for task in tasks]
    written = [f for f in FORMATS if f in formats]
    skipped = {}
    if "ctf" in formats and not any(f.endswith(".ctf.xml") for e in entries for f in e["files"]):
        reason = load_write_ctf()
        skipped["ctf"] = reason if isinstance(reason, str) else "not written"
        written.remove("ctf")
    by_type = {t: sum(e["rows"][t] for e in entries) for t in COLUMNS}
    manifest: dict[str, Any] = {
        "la_code": LA_CODE,
        "la_name": LA_NAME,
        "seed": seed,
        "year": calendar.year,
        "academic_year": f"{calendar.year}/{(calendar.year + 1) % 100:02d}",
        **({"as_at": calendar.as_at.isoformat()} if calendar.as_at else {}),
        "school_days": len(calendar.days),
        "formats": written,
        **({"skipped": skipped} if skipped else {}),
        "totals": {
            "schools": len(entries),
            "learners": sum(e["learners"] for e in entries),
            "rows": sum(by_type.values()),
            "rows_by_type": by_type,
        },
        "schools": entries,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


# --- deltas --------------------------------------------------------------------------------------

# The one non-key field `make_delta` changes in each record type, and how.
DELTA_FIELDS: dict[str, tuple[str, str]] = {
    "school-details": ("phone", "phone"),
    "learners": ("phone", "phone"),
    "contacts": ("phone_mobile", "phone"),
    "learner-contacts": ("lives_with", "flip"),
    "staff": ("title", "title"),
    "staff-assignments": ("start_date", "earlier"),
    "staff-contracts": ("fte", "fte"),
    "groups": ("name", "amend"),
    "group-enrolments": ("start_date", "earlier"),
    "school-enrolments": ("entry_date", "earlier"),
    "session-attendance": ("comment", "comment"),
    "lesson-attendance": ("comment", "comment"),
    "exclusions": ("sessions", "add_one"),
    "special-needs": ("start_date", "earlier"),
    "entitlements": ("start_date", "earlier"),
    "behaviours": ("points", "add_one"),
    "achievements": ("points", "add_one"),
    "homework": ("description", "amend"),
    "diary-events": ("description", "amend"),
}


def _changed(how: str, value: str, rng: random.Random) -> str:
    """A value for the field that differs from `value`."""
    if how == "phone":
        new = value
        while new == value:
            new = _mobile(rng)
        return new
    if how == "flip":
        return "false" if value == "true" else "true"
    if how == "title":
        return rng.choice([t for t in ("Mr", "Mrs", "Ms", "Miss", "Dr", "Mx") if t != value])
    if how == "fte":
        return rng.choice([f for f in ("1.000", "0.800", "0.600", "0.500", "0.400") if f != value])
    if how == "earlier":
        return (date.fromisoformat(value) - timedelta(days=7)).isoformat() if value else "2000-01-01"
    if how == "amend":
        return f"{value} (amended)"
    if how == "comment":
        return "Register amended by office" if value != "Register amended by office" else "Register corrected"
    if how == "add_one":
        return f"{float(value) + 1:.1f}" if "." in value else str(int(value or 0) + 1)
    raise ValueError(how)


def _edit_rows(
    rows: Iterator[list[str]], column: int, how: str, chosen: set[int], rng: random.Random
) -> Iterator[list[str]]:
    for index, row in enumerate(rows):
        if index in chosen:
            row[column] = _changed(how, row[column], rng)
        yield row


def make_delta(zip_in: Path, zip_out: Path, *, fraction: float, seed: int) -> int:
    """Copy a school's zip with round(fraction * rows) rows of each record type (Python's round:
    halves to even) changed in one non-key field (`DELTA_FIELDS`); return how many rows changed.

    Which rows change is decided by `seed` and the type alone; source ids, references and the
    order of rows stay as they were, so the copy is a full batch in which those records changed.
    """
    if not 0 <= fraction <= 1:
        raise ValueError("fraction must be between 0 and 1")
    changed = 0
    with zipfile.ZipFile(zip_in) as source, zipfile.ZipFile(zip_out, "w") as target:
        for info in source.infolist():
            record_type = info.filename.removesuffix(".csv")
            with source.open(info) as raw:
                rows = sum(1 for _ in raw) - 1  # no field holds a line break
            field_name, how = DELTA_FIELDS[record_type]
            rng = random.Random(f"{seed}:delta:{record_type}")  # synthetic data, not secrets  # nosec B311
            chosen = set(rng.sample(range(rows), k=round(fraction * rows)))
            with source.open(info) as raw:
                reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
                header = next(reader)
                edited = _edit_rows(reader, header.index(field_name), how, chosen, rng)
                _write_csv(target, info.filename, header, edited)
            changed += len(chosen)
    return changed


# --- command line --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate a synthetic local authority's MIS batches.")
    parser.add_argument("--schools", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--year", type=int, help="a whole academic year, by its first calendar year (e.g. 2025)")
    parser.add_argument(
        "--today", type=date.fromisoformat, help="without --year: the day the data is as at (default: today)"
    )
    parser.add_argument("--formats", default="csv", help="comma-separated: csv, ctf (default: csv)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply school sizes (default 1)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel processes")
    args = parser.parse_args(argv)
    formats = {f.strip() for f in args.formats.split(",") if f.strip()}
    began = time.perf_counter()
    manifest = generate(
        args.out,
        schools=args.schools,
        seed=args.seed,
        formats=formats,
        year=args.year,
        today=args.today,
        scale=args.scale,
        jobs=args.jobs,
    )
    for fmt, reason in manifest.get("skipped", {}).items():
        print(f"{fmt.upper()} skipped: {reason}", file=sys.stderr)
    totals = manifest["totals"]
    print(
        f"{totals['schools']} schools, {totals['learners']} learners, {totals['rows']} rows "
        f"({totals['rows_by_type']['session-attendance']} session marks) in {time.perf_counter() - began:.1f}s "
        f"-> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
