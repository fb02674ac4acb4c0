# PGXS front door for the similarity extension.
#
# CMake compiles the C++ core and both shared libraries into build/; this
# Makefile drives it and keeps the targets PostgreSQL users expect:
#   make                 build everything (CMake, Release)
#   make install         install into the server found by PG_CONFIG
#   make installcheck    pg_regress against a running, installed server
#   make test            every test on a throwaway cluster (see test/run)
#   make demo            the end-to-end product-photo demo (see scripts/demo)
#   make load-test       the pgbench load test, 10 minutes (SIM_LOAD_SECONDS)

.DEFAULT_GOAL := all

EXTENSION   = similarity
EXTVERSION  = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" similarity.control)
PG_CONFIG  ?= $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)
BUILD_DIR  ?= build
CMAKE_BUILD_TYPE ?= Release

# The install script is assembled from one fragment per feature, in name order.
SQL_FRAGMENTS = $(sort $(wildcard src/sql/*.sql))
DATA_built    = $(BUILD_DIR)/$(EXTENSION)--$(EXTVERSION).sql

REGRESS      = $(sort $(basename $(notdir $(wildcard sql/*.sql))))
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)

# `make test`, `make demo` and `make setup` must work on a machine that has no
# PostgreSQL development files yet, so they do not load PGXS: their scripts
# install the packages and then call make again for the build.
WRAPPER_GOALS = test demo setup load-test
ifneq ($(MAKECMDGOALS),)
ifeq ($(filter-out $(WRAPPER_GOALS),$(MAKECMDGOALS)),)
ONLY_WRAPPERS = yes
endif
endif

.PHONY: test demo setup load-test

test:
	test/run

# The pgbench load test for 10 minutes instead of the suite's 45 seconds.
load-test:
	SIM_LOAD_SECONDS=$${SIM_LOAD_SECONDS:-600} SIM_SUITES=integration \
	SIM_INTEGRATION=test_load_pgbench test/run

demo:
	scripts/demo

setup:
	scripts/setup

ifneq ($(ONLY_WRAPPERS),yes)

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

PG_PKGLIBDIR := $(shell $(PG_CONFIG) --pkglibdir)
NPROC := $(shell nproc 2>/dev/null || echo 2)

.PHONY: all cmake-build install-libs uninstall-libs clean-build

all: cmake-build $(DATA_built)

$(BUILD_DIR)/CMakeCache.txt: CMakeLists.txt
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(CMAKE_BUILD_TYPE) -DPG_CONFIG=$(PG_CONFIG)

cmake-build: $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(NPROC)

$(DATA_built): $(SQL_FRAGMENTS) similarity.control Makefile
	@mkdir -p $(BUILD_DIR)
	{ echo '-- complain if the script is sourced in psql rather than by CREATE EXTENSION'; \
	  printf '%s\n' '\echo Use "CREATE EXTENSION $(EXTENSION)" to load this file. \quit'; \
	  for f in $(SQL_FRAGMENTS); do echo; echo "-- from $$f"; cat $$f; done; } > $@

# PGXS installs the control file and the SQL script; the shared libraries
# come from the CMake build.
install: install-libs
install-libs: cmake-build
	$(MKDIR_P) '$(DESTDIR)$(PG_PKGLIBDIR)'
	$(INSTALL_SHLIB) $(BUILD_DIR)/similarity.so '$(DESTDIR)$(PG_PKGLIBDIR)/'
	$(INSTALL_SHLIB) $(BUILD_DIR)/similarity_embed.so '$(DESTDIR)$(PG_PKGLIBDIR)/'
	$(INSTALL_SHLIB) $(BUILD_DIR)/similarity_pca.so '$(DESTDIR)$(PG_PKGLIBDIR)/'

uninstall: uninstall-libs
uninstall-libs:
	rm -f '$(DESTDIR)$(PG_PKGLIBDIR)/similarity.so' '$(DESTDIR)$(PG_PKGLIBDIR)/similarity_embed.so' \
	      '$(DESTDIR)$(PG_PKGLIBDIR)/similarity_pca.so'

clean-build:
	rm -rf $(BUILD_DIR)

endif
