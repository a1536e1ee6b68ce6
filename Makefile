# expensed - build, test, install.
#
#   make              build ./build/expensed
#   make run          install missing packages, build, run the daemon on ./run/
#   make test         install missing packages, build, run every test and check
#   make test SANITIZE=1   the same under AddressSanitizer + UBSan (build-san/)
#   make tsan         the threaded daemon's tests under ThreadSanitizer
#   make install      PREFIX=/usr/local DESTDIR=
#   make systemd-test the package under a real systemd (root, network; CI)
#   make deb          the Debian package, in build/deb/ (debian/)
#   make pot          po/expensed.pot from the sources, merged into po/*.po

VERSION   := 0.1.0
PREFIX    ?= /usr/local
DESTDIR   ?=
SYSCONFDIR ?= /etc
UNITDIR   ?= /lib/systemd/system
SYSUSERSDIR ?= /usr/lib/sysusers.d
TMPFILESDIR ?= /usr/lib/tmpfiles.d
MANDIR    ?= $(PREFIX)/share/man
LOCALEDIR ?= $(PREFIX)/share/locale
MAN8      := man/expensed.8
MAN5      := man/expensed.conf.5 man/expensed.rules.5
CC        ?= cc
PYTHON    := /usr/bin/python3

ifeq ($(SANITIZE),1)
BUILD     ?= build-san
SANFLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT       := -O1
else ifeq ($(SANITIZE),thread)
BUILD     ?= build-tsan
SANFLAGS  := -fsanitize=thread -fno-omit-frame-pointer
OPT       := -O1
else
BUILD     ?= build
SANFLAGS  :=
OPT       := -O2
endif

CFLAGS    ?= $(OPT) -g
CFLAGS    += -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -DEXPENSED_VERSION=\"$(VERSION)\" $(SANFLAGS)
LDFLAGS   += $(SANFLAGS)
LIBS      := -ljansson -lcurl -lcrypto -lm -lpthread

COMMON_SRC := $(wildcard common/*.c)
RULES_SRC  := $(wildcard rules/*.c)
DAEMON_SRC := $(filter-out daemon/main.c,$(wildcard daemon/*.c))
RULES_OBJ  := $(RULES_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/builtin_rules.o \
	      $(COMMON_SRC:%.c=$(BUILD)/%.o)
DAEMON_OBJ := $(DAEMON_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BUILTIN_RULES := config/rules.d/mission-report.rules
LINGUAS   := fr
MO        := $(LINGUAS:%=$(BUILD)/locale/%/LC_MESSAGES/expensed.mo)

.PHONY: all deps run test unit e2e lint fuzz bench install clean format valgrind \
	standalone systemd-test deb pot po-check tsan FORCE

all: $(BUILD)/expensed $(BUILD)/expensed-hooks $(BUILD)/tests/failmalloc.so $(MO)

# Translations (docs/languages.md): po/LANG.po compiled, checked, into
# $(BUILD)/locale, where EXPENSED_LOCALEDIR points the dev build and the
# tests; the binary's own default is $(LOCALEDIR), where install puts them.
$(BUILD)/common/i18n.o: CPPFLAGS += -DEXPENSED_LOCALEDIR=\"$(LOCALEDIR)\"

# LOCALEDIR is compiled into common/i18n.o: building or installing with
# another PREFIX rebuilds it, so that the installed binary finds its
# installed catalogs.
$(BUILD)/gen/localedir: FORCE
	@mkdir -p $(dir $@)
	@echo '$(LOCALEDIR)' | cmp -s - $@ || echo '$(LOCALEDIR)' > $@

$(BUILD)/common/i18n.o: $(BUILD)/gen/localedir

FORCE:

$(BUILD)/locale/%/LC_MESSAGES/expensed.mo: po/%.po
	@mkdir -p $(dir $@)
	msgfmt --check --statistics -o $@ $<

# Every marked string of every source: _ and N_ (common/i18n.h), TR, NTR,
# CTR and NCTR (rules/walk.h), i18n_tr, i18n_ntr, i18n_ctx, i18n_nctx.
XGETTEXT_KEYS := -k_ -kN_ -kTR:2 -kNTR:2,3 -kCTR:2c,3 -kNCTR:2c,3,4 -ki18n_tr:2 \
	-ki18n_ntr:2,3 -ki18n_ctx:2c,3 -ki18n_nctx:2c,3,4 --flag=TR:2:c-format \
	--flag=NTR:2:c-format --flag=NTR:3:c-format --flag=CTR:3:c-format \
	--flag=NCTR:3:c-format --flag=NCTR:4:c-format \
	--flag=i18n_tr:2:c-format --flag=i18n_ntr:2:c-format \
	--flag=i18n_ntr:3:c-format --flag=i18n_ctx:3:c-format \
	--flag=i18n_nctx:3:c-format --flag=i18n_nctx:4:c-format

XGETTEXT := xgettext --from-code=UTF-8 --language=C \
	--add-comments=TRANSLATORS: --package-name=expensed \
	--package-version=$(VERSION) --msgid-bugs-address=expensed@example.org \
	--sort-by-file $(XGETTEXT_KEYS)
I18N_SRC := $(sort $(wildcard common/*.c rules/*.c daemon/*.c))

pot:
	@echo "xgettext -> po/expensed.pot"
	@$(XGETTEXT) -o po/expensed.pot $(I18N_SRC)
	@for l in $(LINGUAS); do \
		msgmerge --quiet --update --backup=none --no-fuzzy-matching \
			po/$$l.po po/expensed.pot; done

$(BUILD)/expensed: $(BUILD)/daemon/main.o $(DAEMON_OBJ) $(RULES_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# The same daemon with the test hooks (EXPENSED_FAILPOINT) compiled in, for
# the crash-recovery tests; never installed.
HOOKS_OBJ := $(DAEMON_SRC:%.c=$(BUILD)/hooks/%.o) $(BUILD)/hooks/daemon/main.o

$(BUILD)/expensed-hooks: $(HOOKS_OBJ) $(RULES_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/hooks/%.o: %.c $(wildcard common/*.h rules/*.h daemon/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -DEXPENSED_TEST_HOOKS -c -o $@ $<

$(BUILD)/%.o: %.c $(wildcard common/*.h rules/*.h daemon/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# The default rule set is built into the binary from the shipped file.
$(BUILD)/gen/builtin_rules.c: $(BUILTIN_RULES) scripts/embed.sh
	@mkdir -p $(dir $@)
	sh scripts/embed.sh expensed_builtin_rules $< > $@

$(BUILD)/gen/builtin_rules.o: $(BUILD)/gen/builtin_rules.c
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(DAEMON_OBJ) $(RULES_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS) -lcmocka

# The malloc interposer of the out-of-memory tests (tests/test_oom.py):
# never sanitized, as it must be preloaded before anything else.
$(BUILD)/tests/failmalloc.so: tests/oom/failmalloc.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -std=gnu11 -Wall -Wextra -shared -fPIC -o $@ $<

deps:
	@sh scripts/deps.sh

run: deps $(BUILD)/expensed
	@sh scripts/run-dev.sh $(BUILD)/expensed

# Ids that collide under the old, unkeyed hash (tests/collide/gen_collide.c).
$(BUILD)/tests/gen_collide: tests/collide/gen_collide.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

unit: $(UNIT_BIN) $(BUILD)/tests/gen_collide $(MO)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

e2e: $(BUILD)/expensed $(BUILD)/expensed-hooks $(BUILD)/tests/failmalloc.so
	EXPENSED=$(CURDIR)/$(BUILD)/expensed $(PYTHON) -m pytest -q tests

test: deps
	@$(MAKE) --no-print-directory all unit
	@$(MAKE) --no-print-directory e2e
	@$(MAKE) --no-print-directory lint

lint:
	@sh scripts/lint.sh

# The tests that run the daemon's threads hardest (bursts, crashes and
# recovery, deliveries, requeues, pages) with the daemon built under
# ThreadSanitizer (build-tsan/): any race or lock-order report fails, and
# is printed. The rest of the suite is left out: address-space caps
# (prlimit --as) and memory figures mean nothing under TSan. A race put
# in on purpose (a counter both threads raise in worker.c) failed it.
TSAN_TESTS ?= tests/e2e/test_daemon.py tests/e2e/test_delivery.py \
	      tests/e2e/test_requeue.py tests/e2e/test_pages_daemon.py \
	      tests/e2e/test_memory_budget.py
tsan: deps
	@$(MAKE) --no-print-directory SANITIZE=thread all
	@rm -rf build-tsan/reports && mkdir -p build-tsan/reports
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 log_path=$(CURDIR)/build-tsan/reports/tsan" \
	  EXPENSED=$(CURDIR)/build-tsan/expensed $(PYTHON) -m pytest -q $(TSAN_TESTS); \
	  rc=$$?; \
	  if [ -n "$$(ls build-tsan/reports)" ]; then \
	    cat build-tsan/reports/*; echo "tsan: races reported"; exit 1; fi; \
	  exit $$rc

# The suites again, from a copy of the repository with nothing beside it.
standalone:
	@sh scripts/standalone.sh

# The package booted under systemd-nspawn (tests/systemd/run.sh): as root,
# with the network for a cold cache; the last stage of CI.
systemd-test:
	@bash tests/systemd/run.sh

fuzz:
	@sh scripts/fuzz.sh $(FUZZ_SECONDS)

valgrind: $(BUILD)/expensed $(UNIT_BIN) $(MO)
	@sh scripts/valgrind.sh $(BUILD)

$(BUILD)/bench/bench_engine: bench/bench_engine.c $(RULES_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

bench: deps $(BUILD)/expensed
	@sh bench/run.sh $(BUILD)

format:
	clang-format -i common/*.[ch] rules/*.[ch] daemon/*.[ch] tests/unit/*.c fuzz/*.[ch] bench/*.c

install: $(BUILD)/expensed $(MO)
	install -D -m 0755 $(BUILD)/expensed $(DESTDIR)$(PREFIX)/bin/expensed
	install -d $(DESTDIR)$(SYSCONFDIR)/expensed/rules.d
	test -e $(DESTDIR)$(SYSCONFDIR)/expensed/expensed.conf || \
		install -m 0644 config/expensed.conf $(DESTDIR)$(SYSCONFDIR)/expensed/expensed.conf
	test -e $(DESTDIR)$(SYSCONFDIR)/expensed/rules.d/mission-report.rules || \
		install -m 0644 $(BUILTIN_RULES) $(DESTDIR)$(SYSCONFDIR)/expensed/rules.d/mission-report.rules
	install -d $(DESTDIR)$(UNITDIR)
	sed 's|^ExecStart=/usr/local/bin/expensed |ExecStart=$(PREFIX)/bin/expensed |' \
		systemd/expensed.service > $(DESTDIR)$(UNITDIR)/expensed.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/expensed.service
	install -D -m 0644 systemd/expensed.sysusers $(DESTDIR)$(SYSUSERSDIR)/expensed.conf
	install -D -m 0644 systemd/expensed.tmpfiles $(DESTDIR)$(TMPFILESDIR)/expensed.conf
	install -D -m 0644 -t $(DESTDIR)$(MANDIR)/man8 $(MAN8)
	install -D -m 0644 -t $(DESTDIR)$(MANDIR)/man5 $(MAN5)
	for l in $(LINGUAS); do install -D -m 0644 \
		$(BUILD)/locale/$$l/LC_MESSAGES/expensed.mo \
		$(DESTDIR)$(LOCALEDIR)/$$l/LC_MESSAGES/expensed.mo; done

# The catalogs against the sources (make lint): each compiles with
# msgfmt --check, has no untranslated, fuzzy or obsolete entry, and
# translates every string the sources mark now (a new _() fails here
# until `make pot` and a translation).
po-check:
	@mkdir -p $(BUILD)
	@$(XGETTEXT) -o $(BUILD)/expensed.pot $(I18N_SRC)
	@set -e; for l in $(LINGUAS); do \
		msgfmt --check -o /dev/null po/$$l.po; \
		msgcmp po/$$l.po $(BUILD)/expensed.pot; \
		for a in --untranslated --only-fuzzy --only-obsolete; do \
			if [ -n "$$(msgattrib $$a po/$$l.po)" ]; then \
				echo "po/$$l.po: entries found by msgattrib $$a:"; \
				msgattrib $$a po/$$l.po; exit 1; fi; \
		done; \
	done

# The Debian package (debian/), built from a copy of the checkout's files
# (tracked and new, not ignored) in build/deb/src, so that
# dpkg-buildpackage, which writes beside the source tree, leaves its
# .deb, .buildinfo and .changes in build/deb/ and nothing in the checkout.
deb:
	@sh scripts/deb.sh

clean:
	rm -rf build build-san build-tsan build-fuzz run
