"""The nine items a parent may see about a child, and which of them a school can switch off.

Each item names the register categories it shows; `tests/portal/test_items.py` checks that
every one of them is in the register's parent-portal activity, so the portal cannot show what
the privacy notice does not declare.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    code: str
    label: str
    categories: tuple[str, ...]
    switch: str | None = None  # the PortalSettings field; None: always shown


ITEMS: tuple[Item, ...] = (
    Item("details", "Details", ("learner.identity", "learner.enrolment", "learner.groups")),
    Item("photo", "School photo", ("learner.photo",), switch="show_photo"),
    Item("school", "School", ()),
    Item("homework", "Homework", ("learner.homework",)),
    Item("diary", "School diary", ("school.diary",), switch="show_diary"),
    Item("attendance", "Attendance", ("learner.attendance",), switch="show_session_attendance"),
    Item("lessons", "Lesson attendance", ("learner.lesson_attendance",), switch="show_lesson_attendance"),
    Item("achievements", "Achievements", ("learner.achievement",), switch="show_achievements"),
    Item("behaviour", "Behaviour", ("learner.behaviour",), switch="show_behaviour"),
)
ITEMS_BY_CODE = {item.code: item for item in ITEMS}
SWITCHES = tuple(item.switch for item in ITEMS if item.switch)

# Which item a notification kind belongs to: no notification for an item that is switched off.
NOTIFICATION_ITEM = {
    "homework": "homework",
    "behaviour": "behaviour",
    "achievement": "achievements",
    "attendance": "attendance",
}
