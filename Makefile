# llmroute - see README.md.  Targets: all test bench demo fuzz install clean.
#   make WERROR=1                    warnings are errors (CI)
#   make SANITIZE=address,undefined  sanitized build into build-san/
.DEFAULT_GOAL := all
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
# Where `make install` puts libllmroute.so; the launcher is built to look
# there too (after its own directory and ../lib/llmroute beside it).
LIBDIR ?= $(PREFIX)/lib/llmroute
DOCDIR ?= $(PREFIX)/share/doc/llmroute
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
CC ?= cc
SANITIZE ?=
BUILD ?= $(if $(SANITIZE),build-san,build)

CURL_CFLAGS := -I/usr/include/$(shell $(CC) -print-multiarch 2>/dev/null)
WARN := -Wall -Wextra -Wshadow -Wno-unused-parameter $(if $(WERROR),-Werror)
SAN := $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -DCURL_DISABLE_DEPRECATION -fPIC -fvisibility=hidden $(WARN) $(SAN) \
	$(CURL_CFLAGS) -Irouter -Ishim -MMD -MP $(CPPFLAGS) $(CFLAGS)
# $(LDFLAGS): a distribution's hardening flags (dpkg-buildflags).
LDFLAGS_SAN := $(SAN) $(LDFLAGS)

ROUTER_SRC := $(wildcard router/*.c)
SHIM_SRC := $(wildcard shim/*.c)
CTL_SRC := $(wildcard tools/llmroutectl*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
PROG_SRC := $(wildcard tests/progs/*.c)

ROUTER_OBJ := $(ROUTER_SRC:%.c=$(BUILD)/obj/%.o)
SHIM_OBJ := $(SHIM_SRC:%.c=$(BUILD)/obj/%.o)
CTL_OBJ := $(CTL_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
PROG_BIN := $(PROG_SRC:tests/progs/%.c=$(BUILD)/tests/%)

LIB := $(BUILD)/libllmroute.so
CTL := $(BUILD)/llmroutectl
LAUNCHER := $(BUILD)/llmroute
BENCH := $(BUILD)/tests/bench
BENCH_INSTR := $(BUILD)/tests/bench_instr

.PHONY: all deps test-deps test bench demo fuzz install clean
all: deps $(LIB) $(CTL) $(LAUNCHER)

deps:
	@sh tools/deps.sh build
test-deps:
	@sh tools/deps.sh test

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# The shim links neither libcurl nor OpenSSL nor cJSON: it finds libcurl and
# libssl at run time (see shim/lr_curl_sym.c), so a process that never used
# them does not load them because of us.  It reads compiled tables only: the
# rules and price catalogue readers stay in llmroutectl.
# No libm either: it would join every process's global symbol scope, one
# more object for each symbol bound at start-up (router/lr_fmath.h).
# A SONAME, as a library in the system's library directory (the Debian
# package) must have; nothing links against it, so it has no version.
$(LIB): $(SHIM_OBJ) $(filter-out %/lr_rules.o %/lr_catalog.o %/lr_calib.o %/lr_phrasing.o,$(ROUTER_OBJ))
	$(CC) -shared -Wl,--no-undefined -Wl,-z,now -Wl,-soname,libllmroute.so $(LDFLAGS_SAN) -o $@ $^ -ldl -lpthread

# llmroutectl makes the local CA (`ca init`) with OpenSSL's libcrypto; the
# launcher and it share the CA directory's rule (tools/lr_cadir.c).
CADIR_OBJ := $(BUILD)/obj/tools/lr_cadir.o
# ... and talks to the fleet's Redis (`stats --fleet`) with the shim's
# own small RESP client (TLS too: it loads libssl at run time, as the shim).
$(CTL): $(CTL_OBJ) $(ROUTER_OBJ) $(CADIR_OBJ) $(BUILD)/obj/shim/lr_resp.o $(BUILD)/obj/shim/lr_resp_tls.o
	$(CC) $(LDFLAGS_SAN) -o $@ $^ -lcjson -lcrypto -lm -lpthread

$(LAUNCHER): $(BUILD)/obj/tools/llmroute.o $(CADIR_OBJ)
	$(CC) $(LDFLAGS_SAN) -o $@ $^

# The launcher's library directory is compiled in: rebuild it when LIBDIR
# changes.
$(BUILD)/obj/tools/llmroute.o: ALL_CFLAGS += -DLR_LIBDIR='"$(LIBDIR)"'
$(BUILD)/obj/tools/llmroute.o: $(BUILD)/libdir.$(subst /,_,$(LIBDIR))
$(BUILD)/libdir.%:
	@mkdir -p $(dir $@)
	@rm -f $(BUILD)/libdir.*
	@touch $@

$(BUILD)/tests/%: tests/unit/%.c $(ROUTER_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS_SAN) -o $@ $(filter %.c %.o,$^) -lcjson -lm -lpthread

# test_conn drives the shim's connection engine through a fake transport:
# shim/lr_conn.o with the router, and stubs for the rest of the shim.
$(BUILD)/tests/test_conn: tests/unit/test_conn.c $(BUILD)/obj/tests/unit/conn_stubs.o \
		$(BUILD)/obj/shim/lr_conn.o $(ROUTER_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS_SAN) -o $@ $(filter %.c %.o,$^) -lcjson -lm -lpthread

$(BUILD)/tests/%: tests/progs/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS_SAN) -o $@ $< -lcurl -lpthread

# A TLS app without libcurl (make bench: tls-move, labelled 11): the shim's own client
# loads libcurl itself, as in a Python process.
$(BUILD)/tests/bench_tlsmove: tests/progs/bench_tlsmove.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS_SAN) -o $@ $< -lssl -lcrypto -lpthread

# The upstream client's test driver: the whole shim linked in (its hooks
# exported, so libcurl's calls reach them as in a preloaded process), and
# OpenSSL for the X509_STOREs an app would hand over.
UP_CLIENT := $(BUILD)/tests/up_client
$(UP_CLIENT): tests/upstream/up_client.c $(SHIM_OBJ) $(filter-out %/lr_rules.o,$(ROUTER_OBJ))
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS_SAN) -rdynamic -o $@ $(filter %.c %.o,$^) -lssl -lcrypto -ldl -lpthread -lm

$(BENCH): tests/bench/bench.c $(ROUTER_OBJ) $(BUILD)/obj/shim/lr_xsink.o
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O2 -o $@ $(filter %.c %.o,$^) -lcjson -lm -lpthread

# The router's pieces one at a time, for callgrind (make bench, part 12).
$(BENCH_INSTR): tests/bench/bench_instr.c $(ROUTER_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -O2 -o $@ $(filter %.c %.o,$^) -lcjson -lm -lpthread

test: test-deps all $(UNIT_BIN) $(PROG_BIN) $(UP_CLIENT) $(BENCH)
	@BUILD=$(BUILD) SANITIZE=$(SANITIZE) sh tests/run.sh

bench: all $(BENCH) $(BENCH_INSTR) $(PROG_BIN)
	@BUILD=$(BUILD) sh tests/bench/run.sh

demo: test-deps all
	@BUILD=$(BUILD) sh tools/demo.sh

fuzz: test-deps
	@BUILD=$(BUILD) FUZZ_SECONDS=$${FUZZ_SECONDS:-300} sh tests/fuzz/run.sh

# The bash completion is generated from llmroutectl's verb table.
COMPLETION := $(BUILD)/llmroutectl.bash
$(COMPLETION): $(CTL)
	$(CTL) completion bash >$@.tmp && mv $@.tmp $@

# The systemd units get the installed paths (not DESTDIR: that is only
# where the files are staged).
UNIT_SED := -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g'
SHARE := $(DESTDIR)$(PREFIX)/share
install: all $(COMPLETION)
	install -d $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(DOCDIR)/docs $(SHARE)/man/man1 $(SHARE)/man/man5 \
		$(SHARE)/bash-completion/completions $(DESTDIR)$(UNITDIR) $(DESTDIR)$(LIBDIR)
	install -m 0644 $(LIB) $(DESTDIR)$(LIBDIR)/libllmroute.so
	install -m 0755 $(CTL) $(LAUNCHER) $(DESTDIR)$(BINDIR)/
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	install -m 0644 $(wildcard docs/*.md) $(DESTDIR)$(DOCDIR)/docs/
	install -m 0644 $(wildcard man/*.1) $(SHARE)/man/man1/
	install -m 0644 $(wildcard man/*.5) $(SHARE)/man/man5/
	install -m 0644 $(COMPLETION) $(SHARE)/bash-completion/completions/llmroutectl
	for u in dist/systemd/*.service.in; do \
		sed $(UNIT_SED) "$$u" >"$(DESTDIR)$(UNITDIR)/$$(basename "$$u" .in)" && \
		chmod 0644 "$(DESTDIR)$(UNITDIR)/$$(basename "$$u" .in)" || exit 1; \
	done

clean:
	rm -rf build build-san

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
