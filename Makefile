# ledgerline - GNU Make build. `make help` lists the targets.
#
# Two build flavours side by side: build/release (-O2) and build/asan (AddressSanitizer + UBSan,
# used by `make test`). Pick one with BUILD=release|asan. Assertions stay on in both: money
# invariants are checked in production too.

BUILD ?= release
ifeq ($(filter $(BUILD),release asan),)
$(error BUILD must be release or asan, not '$(BUILD)')
endif
B := build/$(BUILD)
CC ?= cc
SHELL := /bin/bash
# `make V=1` prints full compiler command lines.
ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-5s %s\n' $(1) $(2)
endif

PKGS := libpq libmongoc-1.0 rdkafka jansson openssl
# Evaluated once per make; on a fresh machine the top-level targets install the packages first
# and then build in a sub-make, which sees them. -isystem: third-party headers do not trip -Werror.
PKG_CFLAGS := $(patsubst -I%,-isystem %,$(shell pkg-config --cflags $(PKGS) 2>/dev/null))
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
H2O_LIBS := -lh2o-evloop -lssl -lcrypto -lz -lpthread

WARNINGS := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wformat=2 -Wvla -Wundef
CFLAGS_BASE := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DH2O_USE_LIBUV=0 \
               $(WARNINGS) -g -MMD -MP $(PKG_CFLAGS)
ifeq ($(BUILD),asan)
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CFLAGS_OPT := -O1 $(SAN)
LDFLAGS_OPT := $(SAN)
else
CFLAGS_OPT := -O2
LDFLAGS_OPT :=
endif
ALL_CFLAGS := $(CFLAGS_BASE) $(CFLAGS_OPT) $(CFLAGS)
ALL_LDLIBS := $(PKG_LIBS) $(H2O_LIBS) -lm $(LDLIBS)

# --- layers -----------------------------------------------------------------------------------
# The folders are floors (docs/design.md, "Code map"). Each is compiled with the include paths of
# its own folder and of the floors it may use, nothing more, so an include that runs back up or
# sideways does not compile (`make layer-check`, tests/layers/). Programs and tests see them all.
LAYERS := domain lib readmodel eventstore services projector api
INC_domain     := -Idomain
INC_lib        := -Ilib $(INC_domain)
INC_readmodel  := -Ireadmodel $(INC_lib)
INC_eventstore := -Ieventstore $(INC_lib)
INC_services   := -Iservices -Ieventstore $(INC_lib)
INC_projector  := -Iprojector -Ireadmodel -Ieventstore $(INC_lib)
INC_api        := -Iapi -Ireadmodel -Ieventstore $(INC_lib)
INC_ALL        := $(foreach d,$(LAYERS),-I$(d)) -Itests/lib
# The include paths of a source file: its layer's, or all of them (tools, tests, bench, gen).
inc_of = $(or $(INC_$(firstword $(subst /, ,$(1)))),$(INC_ALL))

# --- sources ----------------------------------------------------------------------------------
# Every layer but its *_main.c files is one static library; programs link them top floor first.
MIGRATIONS := $(sort $(wildcard eventstore/migrations/*.sql))
MIGRATIONS_C := $(B)/gen/ll_migrations_sql.c
OPENAPI_C := $(B)/gen/ll_openapi_yaml.c
GEN_OBJS_lib := $(B)/obj/gen/ll_openapi_yaml.o
GEN_OBJS_eventstore := $(B)/obj/gen/ll_migrations_sql.o
layer_objs = $(patsubst %.c,$(B)/obj/%.o,$(filter-out %_main.c,$(wildcard $(1)/*.c))) $(GEN_OBJS_$(1))
LIB_A := $(foreach d,api projector services eventstore readmodel lib domain,$(B)/lib/libll_$(d).a)
COMPONENT_DIRS := services projector api

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:%.c=$(B)/%)
UNIT_SCRIPTS := tests/vectors/check_vectors.py
INTEG_SRCS := $(wildcard tests/integration/test_*.c)
INTEG_BINS := $(INTEG_SRCS:%.c=$(B)/%)
INTEG_SCRIPTS := $(wildcard tests/integration/test_*.sh)
# The shared-ledger check runs last, after every suite (check-run), not among the e2e suites.
LAST_CHECK := tests/e2e/test_shared_ledger_intact.py
E2E_SCRIPTS := $(filter-out $(LAST_CHECK),$(wildcard tests/e2e/test_*.py))
DEPLOY_SCRIPTS := tests/deploy/check_deploy.py
FAULT_SCRIPTS := tests/faults/test_faults.py tests/faults/test_kafka_failover.py tests/faults/test_relay_faults.py \
                 tests/faults/test_projector_faults.py tests/faults/test_projector_order.py \
                 tests/faults/test_projector_cluster.py \
                 tests/faults/test_cluster_faults.py tests/faults/test_partition_growth.py \
                 tests/faults/test_pg_failover.py

# ledgerline's programs: tools/NAME.c, tools/NAME/*.c and DIR/NAME_main.c become $(B)/bin/ledgerline-NAME.
TOOL_SRCS := $(wildcard tools/*.c)
TOOL_DIRS := $(sort $(patsubst %/,%,$(dir $(wildcard tools/*/*.c))))
TOOL_BINS := $(TOOL_SRCS:tools/%.c=$(B)/bin/ledgerline-%) $(TOOL_DIRS:tools/%=$(B)/bin/ledgerline-%)
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRCS:%.c=$(B)/%)
MAIN_SRCS := $(foreach d,$(COMPONENT_DIRS),$(wildcard $(d)/*_main.c))
MAIN_BINS := $(foreach f,$(MAIN_SRCS),$(B)/bin/ledgerline-$(patsubst %_main.c,%,$(notdir $(f))))

# libFuzzer targets (clang only): each tests/fuzz/fuzz_NAME.c with the domain and lib sources.
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=build/fuzz/%)
FUZZ_LIB_SRCS := $(wildcard domain/*.c) lib/ll_jwt.c
FUZZ_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(WARNINGS) -g -O1 -Ilib -Idomain \
               -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_SECONDS ?= 300

.DEFAULT_GOAL := build
# Keep object files of test and tool mains (make would delete them as intermediates).
.SECONDARY:
.PHONY: FORCE layer-check build help deps run test unit integration up down status restart logs clean distclean format fuzz fuzz-build migrate bench token soak

build: $(LIB_A) $(TOOL_BINS) $(MAIN_BINS) $(UNIT_BINS) $(INTEG_BINS) $(BENCH_BINS)

$(B)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) $(call inc_of,$<) -c $< -o $@

# A layer's object list is kept in a file rewritten only when it changes, so an archive is made
# anew when a source leaves its folder (or the folder), not only when one is newer.
define layer_rule
$(B)/lib/libll_$(1).objs: FORCE
	@mkdir -p $$(@D)
	@echo '$(call layer_objs,$(1))' | cmp -s - $$@ || echo '$(call layer_objs,$(1))' >$$@
$(B)/lib/libll_$(1).a: $(call layer_objs,$(1)) $(B)/lib/libll_$(1).objs
	$$(call say,AR,$$@)
	$$(Q)rm -f $$@ && ar rcs $$@ $$(filter %.o,$$^)
endef
FORCE:
$(foreach d,$(LAYERS),$(eval $(call layer_rule,$(d))))

# Each probe in tests/layers/FLOOR_includes_HEADER.c includes a header FLOOR may not see: it must
# compile with every include path (the probe is sound) and fail with FLOOR's own (the build
# refuses the wrong include). The flags are the build's own (inc_of).
LAYER_PROBES := $(wildcard tests/layers/*_includes_*.c)
PROBE_CFLAGS := $(filter-out -MMD -MP,$(CFLAGS_BASE)) -fsyntax-only
probe_floor = $(firstword $(subst _includes_, ,$(notdir $(1))))
define layer_probe
	if ! $(CC) $(PROBE_CFLAGS) $(INC_ALL) $(1) 2>/dev/null; then \
	    echo "  FAIL $(1): does not compile even with every include path"; failed=$$((failed + 1)); \
	elif $(CC) $(PROBE_CFLAGS) $(call inc_of,$(call probe_floor,$(1))/probe.c) $(1) 2>/dev/null; then \
	    echo "  FAIL $(1): $(call probe_floor,$(1))/ may include what it must not"; failed=$$((failed + 1)); \
	else echo "  ok   $(1): refused"; passed=$$((passed + 1)); fi;
endef
layer-check:
	@passed=0; failed=0; $(foreach p,$(LAYER_PROBES),$(call layer_probe,$(p))) \
	echo "layers: $$passed passed, $$failed failed"; test $$failed -eq 0

$(B)/bench/%: $(B)/obj/bench/%.o $(LIB_A)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_OPT) $(LDFLAGS) $< $(LIB_A) $(ALL_LDLIBS) -o $@

$(B)/tests/%: $(B)/obj/tests/%.o $(LIB_A)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_OPT) $(LDFLAGS) $< $(LIB_A) $(ALL_LDLIBS) -o $@

$(B)/bin/ledgerline-%: $(B)/obj/tools/%.o $(LIB_A)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS_OPT) $(LDFLAGS) $< $(LIB_A) $(ALL_LDLIBS) -o $@

# A tool of several files: tools/NAME/*.c -> ledgerline-NAME.
define tool_dir_rule
$(B)/bin/ledgerline-$(notdir $(1)): $(patsubst %.c,$(B)/obj/%.o,$(wildcard $(1)/*.c)) $(LIB_A)
	@mkdir -p $$(@D)
	$$(call say,LD,$$@)
	$$(Q)$$(CC) $$(LDFLAGS_OPT) $$(LDFLAGS) $$(filter %.o,$$^) $$(LIB_A) $$(ALL_LDLIBS) -o $$@
endef
$(foreach d,$(TOOL_DIRS),$(eval $(call tool_dir_rule,$(d))))

# Service mains: services/command_main.c -> ledgerline-command (and likewise in projector/, api/).
define main_rule
$(B)/bin/ledgerline-$(patsubst %_main.c,%,$(notdir $(1))): $(B)/obj/$(1:.c=.o) $(LIB_A)
	@mkdir -p $$(@D)
	$$(call say,LD,$$@)
	$$(Q)$$(CC) $$(LDFLAGS_OPT) $$(LDFLAGS) $$< $$(LIB_A) $$(ALL_LDLIBS) -o $$@
endef
$(foreach f,$(MAIN_SRCS),$(eval $(call main_rule,$(f))))

$(MIGRATIONS_C): $(MIGRATIONS) tools/embed_migrations.sh
	@mkdir -p $(@D)
	$(call say,GEN,$@)
	$(Q)tools/embed_migrations.sh $@ $(MIGRATIONS)

$(OPENAPI_C): api/openapi.yaml tools/embed_text.sh
	@mkdir -p $(@D)
	$(call say,GEN,$@)
	$(Q)tools/embed_text.sh $@ ll_openapi_yaml api/openapi.yaml

$(B)/obj/gen/%.o: $(B)/gen/%.c
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) $(INC_ALL) -c $< -o $@

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_SRCS) $(wildcard lib/*.h domain/*.h)
	@mkdir -p $(@D)
	$(call say,FUZZ,$@)
	$(Q)clang $(FUZZ_CFLAGS) $< $(FUZZ_LIB_SRCS) -ljansson -lcrypto -o $@

fuzz-build: $(FUZZ_BINS)

-include $(shell find build -name '*.d' 2>/dev/null)

# --- the two set-up commands ------------------------------------------------------------------
STACK := deploy/local/stack.sh

deps:
	@deploy/local/install.sh

# Installs what is missing, builds, starts the stack and every ledgerline process.
run: deps
	@$(MAKE) --no-print-directory BUILD=release build
	@$(STACK) up
	@echo
	@$(STACK) status || true
	@echo
	@echo "ledgerline is running (state and logs under var/):"
	@echo "  PostgreSQL  127.0.0.1:55432   Kafka 127.0.0.1:59092   MongoDB protocol 127.0.0.1:57017"
	@echo "  command API http://127.0.0.1:8080   query API http://127.0.0.1:8081"
	@echo "  metrics: projector http://127.0.0.1:8082/metrics, relay http://127.0.0.1:8083/metrics"
	@echo "  logs: var/log/command.log, query.log, relay.log, projector.log (JSON lines)"
	@echo '  try: TOKEN=$$(make -s token SUB=ops ROLE=operator)'
	@echo '       curl -s -XPOST localhost:8080/v1/accounts -H "Authorization: Bearer $$TOKEN" \'
	@echo '         -H "Content-Type: application/json" -H "Idempotency-Key: $$(date +%s%N)" \'
	@echo '         -d '"'"'{"owner":"alice","currency":"EUR"}'"'"
	@echo "Several instances: LL_REPLICAS=projector:3,query:2,command:2 make run (docs/local-stack.md)"
	@echo "Stop everything with: make down     Follow the logs with: make logs"

# Installs what is missing, builds with ASan+UBSan, starts the stack, runs every test.
test: deps
	@$(MAKE) --no-print-directory BUILD=release build
	@$(MAKE) --no-print-directory BUILD=asan build fuzz-build
	@$(STACK) up postgres kafka ferretdb
	@echo "(the local stack stays up after the tests; stop it with: make down)"
	@$(MAKE) --no-print-directory BUILD=asan check-run

# Unit tests alone: no servers needed.
unit:
	@$(MAKE) --no-print-directory BUILD=asan build
	@$(MAKE) --no-print-directory BUILD=asan unit-run

export ASAN_OPTIONS ?= detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1

.PHONY: unit-run check-run
unit-run:
	@tests/run.sh $(UNIT_BINS) $(UNIT_SCRIPTS)

# Every test in one runner call, so the output ends with one total line. The last check proves
# that no suite damaged the stack's own ledger (the one `make run` serves).
check-run:
	@tests/run.sh $(UNIT_BINS) $(UNIT_SCRIPTS) $(DEPLOY_SCRIPTS) tests/fuzz/run.sh $(INTEG_BINS) $(INTEG_SCRIPTS) \
	    $(E2E_SCRIPTS) $(FAULT_SCRIPTS) \
	    tests/bench_smoke.sh $(LAST_CHECK)

up: deps
	@$(MAKE) --no-print-directory BUILD=release build
	@$(STACK) up

# Applies pending schema migrations to the configured database (the stack's by default).
migrate:
	@$(MAKE) --no-print-directory BUILD=release build
	@build/release/bin/ledgerline-migrate
down:
	@$(STACK) down

# Prints a bearer token for the local stack: make -s token SUB=alice ROLE=customer [TTL=3600]
SUB ?= operator
ROLE ?= operator
TTL ?= 3600
token:
	@test -x build/release/bin/ledgerline-token || $(MAKE) --no-print-directory BUILD=release build >&2
	@LEDGERLINE_JWT_SECRET=$$($(STACK) jwt-secret) build/release/bin/ledgerline-token \
	    --sub "$(SUB)" --role "$(ROLE)" --ttl "$(TTL)"
status:
	@$(STACK) status
restart:
	@$(STACK) restart
logs:
	@tail -n 20 -F var/log/*.log

# Benchmarks (bench/): ratios against baselines measured in the same run. Not part of make test
# (a smoke run of a few seconds is). About two hours; writes bench/results/ (latest.md, plots) and
# the table in README.md. BENCH_ARGS go to the command and query drivers, e.g. "--reps 5".
bench: deps
	@$(MAKE) --no-print-directory BUILD=release build
	@$(STACK) up postgres kafka ferretdb
	@bench/bench_system.py
	@bench/bench_commands.py $(BENCH_ARGS)
	@bench/bench_replicated.py
	@bench/bench_queries.py $(BENCH_ARGS)
	@bench/bench_projector.py
	@bench/bench_scale.py
	@bench/bench_peer.py
	@bench/report.py

# Fault injection, the long form: a minute of load around each kill -9 (tests/faults/).
soak: deps
	@$(MAKE) --no-print-directory BUILD=asan build
	@$(STACK) up postgres kafka ferretdb
	@tests/run.sh "tests/faults/test_faults.py --soak"

# Long fuzzing run: FUZZ_SECONDS per target (default 300).
fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@tests/fuzz/run.sh $(FUZZ_SECONDS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

# Also removes all local data (databases, Kafka log, read models). Stops the stack first.
distclean: down clean
	rm -rf var

help:
	@echo "make run        install what is missing, build, start the whole system (stop: make down)"
	@echo "make test       install what is missing, build with ASan+UBSan, start the stack, run all tests"
	@echo "make unit       unit tests only (no servers)"
	@echo "make soak       fault injection with a minute of load around each kill -9 (docs/reliability.md)"
	@echo "make up|down|status|restart   the local stack (PostgreSQL, Kafka, FerretDB, services)"
	@echo "make -s token SUB=alice ROLE=customer   a bearer token for the local stack (roles: customer, operator, auditor)"
	@echo "make migrate    apply pending schema migrations (ledgerline-migrate)"
	@echo "make logs       follow var/log/*.log"
	@echo "make build      build (BUILD=release|asan)"
	@echo "make bench      benchmarks as ratios to same-run baselines (bench/results/)"
	@echo "make fuzz       fuzz the decoders, FUZZ_SECONDS per target (default 300)"
	@echo "make format     clang-format every C file"
	@echo "make clean      remove build/;  make distclean: also stop the stack and remove var/"
