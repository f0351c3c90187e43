"""Subject-access benchmark: the time to build one learner's access bundle (every provider's export,
the audit events about them, their disclosures, JSON + HTML zipped), against SELECTing the learner's
row and every dependent row directly (the floor: the same rows, no export work).

Two targets (issue #18): the bundle as a download delivers it now (JSON and HTML zipped, the PDF's
HTML recorded and its layout queued) under 0.5 s, and its JSON and HTML (gathering every provider,
the audit events and the disclosures, then writing both) under 0.1 s. The PDF is laid out in the
background (`rights.pdf_jobs`); its time is printed for information, with no target.

Runs on the database `bench/ingest.py` loaded (run that first; `make bench` does), after
`bench/sharing.py` has logged its disclosures if it ran. The learner measured is the one with the
most session-attendance rows in the LA: the largest bundle, not a typical one. With `--build`, the
benchmark LA is generated and loaded here first (into `STEWARD_DB_NAME`, default steward_bench).

Usage: python bench/rights.py [--runs 7] [--build [--schools 6]]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("STEWARD_DB_NAME", "steward_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steward.settings")

import django  # noqa: E402

django.setup()

from django.core.serializers.json import DjangoJSONEncoder  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.figures import emit  # noqa: E402
from steward.audit.actor import Actor  # noqa: E402
from steward.mis.models import Learner, SessionAttendance  # noqa: E402
from steward.mis.privacy import dependents  # noqa: E402
from steward.rights import bundle, services  # noqa: E402
from steward.rights.bundle_pdf import bundle_pdf  # noqa: E402
from steward.rights.models import RightsRequest  # noqa: E402
from steward.tenancy.models import Organisation  # noqa: E402
from steward.tenancy.scope import tenant_scope  # noqa: E402

TARGET_SECONDS = 0.5  # the bundle as delivered now
DATA_TARGET_SECONDS = 0.1  # its JSON and HTML


def build(schools: int, seed: int) -> None:
    """Generate and load the benchmark LA (as bench/ingest.py does, without its measurements)."""
    from bench.ingest import BENCH_YEAR, create_schools, fresh_database, steward_ingest
    from steward.demo.synthetic import generate

    work = Path(tempfile.mkdtemp(prefix="steward-bench-rights-"))
    print(f"generating {schools} schools (seed {seed}) in {work} ...", flush=True)
    manifest = generate(work, schools=schools, seed=seed, formats={"csv"}, year=BENCH_YEAR, jobs=2)
    fresh_database()
    steward_ingest(sorted(work.glob("*.zip")), create_schools(manifest))


def heaviest_learner() -> Learner:
    schools = list(Organisation.objects.filter(kind=Organisation.Kind.SCHOOL).values_list("id", flat=True))
    with tenant_scope(schools):
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT school_id, learner_source_id FROM {SessionAttendance._meta.db_table} "  # noqa: S608
                "GROUP BY school_id, learner_source_id ORDER BY count(*) DESC LIMIT 1"
            )
            row = cursor.fetchone()
        if row is None:
            sys.exit("no attendance: run bench/ingest.py first (or pass --build)")
        return Learner.objects.select_related("school").get(school_id=row[0], source_id=row[1])


def access_request(learner: Learner) -> RightsRequest:
    with tenant_scope([learner.school_id]):
        request = services.request_log(
            school=learner.school,
            kind=RightsRequest.Kind.ACCESS,
            subject_kind=RightsRequest.SubjectKind.LEARNER,
            subject_id=learner.pk,
            subject_label="bench",
            requested_by="bench",
            received_on=timezone.localdate(),
            actor=Actor.system("bench"),
        )
        return services.request_mark_identity_checked(request=request, actor=Actor.system("bench"))


def time_bundle(request: RightsRequest) -> tuple[float, int]:
    """Seconds for one bundle (as the back office builds it, audit of the build included) and its size."""
    started = time.perf_counter()
    with tenant_scope([request.school_id]):
        out = io.BytesIO()
        services.access_bundle(request=request, actor=Actor.system("bench"), out=out)
    return time.perf_counter() - started, out.tell()


def time_parts(request: RightsRequest) -> tuple[float, float]:
    """Seconds to gather every provider's export and write JSON and HTML (as the zip holds them),
    and to lay out the PDF (in the background, since issue #18)."""
    started = time.perf_counter()
    with tenant_scope([request.school_id]):
        document = bundle.gather(request)
    bundle.render_html(document)
    json.dumps(document, cls=DjangoJSONEncoder, indent=2)
    gathered = time.perf_counter()
    bundle_pdf(document)
    return gathered - started, time.perf_counter() - gathered


def time_select(learner: Learner) -> tuple[float, int]:
    """Seconds to read the learner's row and every row referring to it, with plain SELECTs."""
    started = time.perf_counter()
    rows = 0
    with tenant_scope([learner.school_id]), connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {Learner._meta.db_table} WHERE id = %s", [learner.pk])  # noqa: S608
        rows += len(cursor.fetchall())
        for model, field in dependents("learners"):
            column = model._meta.get_field(field).column
            cursor.execute(
                f"SELECT * FROM {model._meta.db_table} WHERE school_id = %s AND {column} = %s",  # noqa: S608
                [learner.school_id, learner.source_id],
            )
            rows += len(cursor.fetchall())
    return time.perf_counter() - started, rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--build", action="store_true", help="generate and load the benchmark LA first")
    parser.add_argument("--schools", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.build:
        build(args.schools, args.seed)
    learner = heaviest_learner()
    request = access_request(learner)
    time_select(learner)  # warm the cache for both
    time_bundle(request)
    selects = [time_select(learner) for _ in range(args.runs)]
    bundles = [time_bundle(request) for _ in range(args.runs)]
    select_s = statistics.median(s for s, _ in selects)
    bundle_s = statistics.median(s for s, _ in bundles)
    size = bundles[-1][1]
    rows = selects[-1][1]
    print()
    print(f"learner {learner.source_id} at {learner.school.name}: {rows:,} rows about them; bundle {size:,} bytes")
    print(f"{'measure (median of ' + str(args.runs) + ')':<56}{'seconds':>10}{'vs SELECT':>12}")
    print(f"{'SELECT the learner row and its dependents (baseline)':<56}{select_s:>10.3f}{1:>12.1f}")
    label = "subject-access bundle as delivered (JSON + HTML zip)"
    print(f"{label:<56}{bundle_s:>10.3f}{bundle_s / select_s:>12.1f}")
    parts = [time_parts(request) for _ in range(3)]
    data_s = statistics.median(d for d, _ in parts)
    pdf_s = statistics.median(p for _, p in parts)
    label = "  of which: providers, audit, disclosures, JSON, HTML"
    print(f"{label:<56}{data_s:>10.3f}{data_s / select_s:>12.1f}")
    print(f"{'the PDF, laid out in the background (WeasyPrint)':<56}{pdf_s:>10.3f}{pdf_s / select_s:>12.1f}")
    print()
    for what, seconds, target in (
        ("JSON + HTML", data_s, DATA_TARGET_SECONDS),
        ("bundle as delivered", bundle_s, TARGET_SECONDS),
    ):
        verdict = "met" if seconds < target else "NOT met"
        print(f"target: {what} < {target} s for the heaviest learner: {seconds:.3f} s ({verdict})")
    emit(
        "rights",
        sar_seconds=round(bundle_s, 3),
        sar_data_seconds=round(data_s, 3),
        sar_pdf_seconds=round(pdf_s, 3),
        select_seconds=round(select_s, 4),
        sar_rows=rows,
    )


if __name__ == "__main__":
    main()
