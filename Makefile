# libgpt2 - GNU Make build. `make` builds the libraries, programs and tools;
# `make check` runs the whole test suite; see README.md.

include mk/version.mk

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
DESTDIR ?=

CC ?= cc
BUILD ?= build
OPT ?= -O2
SANITIZE ?=

WARN := -Wall -Wextra -Wpedantic -Werror
CFLAGS_ALL := -std=c11 $(OPT) -g $(WARN) -fvisibility=hidden -fPIC \
  -D_GNU_SOURCE -Iinclude -Ilib $(CFLAGS)
LDLIBS_ALL := -lm -lpthread
ifneq ($(NATIVE),)
  CFLAGS_ALL += -march=native
endif
ifneq ($(SANITIZE),)
  CFLAGS_ALL += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
  LDLIBS_ALL += -fsanitize=$(SANITIZE)
endif

# The platform decides the export mechanism and the shared library's form:
# ELF (Linux, the BSDs: GNU ld, gold and lld all take these flags) a version
# script, SONAME and symlinks; Mach-O (Darwin) an exported-symbols list and
# an install name, written but never built here (docs/platforms.md); Windows
# (MinGW-w64, `make windows`: the block further down) dllexport from
# GPT2_API. lib/**/*_win32.c are the Windows bodies of core/ functions.
TARGET_OS ?= $(shell uname -s)
LIB_SRC := $(sort $(filter-out %_win32.c,$(shell find lib -name '*.c')))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
ifeq ($(TARGET_OS),Darwin)
SONAME := libgpt2.$(VERSION_MAJOR).dylib
SHARED := $(BUILD)/libgpt2.$(VERSION).dylib
SHARED_LINK := libgpt2.dylib
SHARED_FLAGS := -dynamiclib -install_name $(LIBDIR)/$(SONAME) \
  -compatibility_version $(VERSION_MAJOR) -current_version $(VERSION) \
  -Wl,-exported_symbols_list,lib/libgpt2.exports
PROGRAM_RPATH := -Wl,-rpath,@loader_path -Wl,-rpath,@loader_path/../lib
else
SONAME := libgpt2.so.$(VERSION_MAJOR)
SHARED := $(BUILD)/libgpt2.so.$(VERSION)
SHARED_LINK := libgpt2.so
SHARED_FLAGS := -shared -Wl,-soname,$(SONAME) -Wl,--version-script=lib/libgpt2.map \
  -Wl,--no-undefined
PROGRAM_RPATH := -Wl,-rpath,'$$ORIGIN:$$ORIGIN/../lib'
endif
STATIC := $(BUILD)/libgpt2.a

# Programs: examples/NAME.c -> build/NAME (linked to the shared library).
PROGRAMS := $(patsubst examples/%.c,$(BUILD)/%,$(wildcard examples/*.c))
# Data generators: tools/gen/NAME.c -> build/tools/NAME (static library).
TOOLS := $(patsubst tools/gen/%.c,$(BUILD)/tools/%,$(wildcard tools/gen/*.c))
# Benchmarks: bench/NAME.c -> build/bench/NAME (static library, internals).
BENCHES := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))
# Tests: tests/unit/NAME.c -> build/tests/NAME (static library, internals).
TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/*.c))

INSTALLED_PROGRAMS := $(filter $(BUILD)/gpt2-%,$(PROGRAMS))
# C++ examples (include/gpt2.hpp): examples/cpp/NAME.cpp -> build/cpp/NAME,
# built when a C++ compiler is there.
CXX ?= c++
CXX_PROGRAMS := $(if $(shell command -v $(CXX)),$(patsubst examples/cpp/%.cpp,$(BUILD)/cpp/%,$(wildcard examples/cpp/*.cpp)))

.PHONY: all check check-asan check-tsan demo install uninstall clean fuzz windows
all: $(SHARED) $(BUILD)/$(SHARED_LINK) $(STATIC) $(PROGRAMS) $(CXX_PROGRAMS) $(TOOLS) $(BENCHES) \
  $(BUILD)/gpt2.pc

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(SHARED): $(LIB_OBJ) lib/libgpt2.map lib/libgpt2.exports
	$(CC) $(SHARED_FLAGS) -o $@ $(LIB_OBJ) $(LDFLAGS) $(LDLIBS_ALL)

$(BUILD)/$(SHARED_LINK): $(SHARED)
	ln -sf $(notdir $(SHARED)) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $@

$(STATIC): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

# Every compile writes NAME.d (-MMD -MP), included below: a program is
# rebuilt when a header it includes changes.
$(BUILD)/%: examples/%.c $(BUILD)/$(SHARED_LINK)
	$(CC) $(CFLAGS_ALL) -MMD -MP -o $@ $< -L$(BUILD) -lgpt2 $(PROGRAM_RPATH) $(LDFLAGS) $(LDLIBS_ALL)

$(BUILD)/cpp/%: examples/cpp/%.cpp include/gpt2.hpp $(BUILD)/$(SHARED_LINK)
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 $(OPT) -g -Wall -Wextra -Wpedantic -Werror -Iinclude $(CXXFLAGS) -MMD -MP \
	  -o $@ $< -L$(BUILD) -lgpt2 -Wl,-rpath,'$$ORIGIN/..' $(LDFLAGS)

$(BUILD)/tools/%: tools/gen/%.c $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -o $@ $< $(STATIC) $(LDFLAGS) $(LDLIBS_ALL)

$(BUILD)/bench/%: bench/%.c $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -o $@ $< $(STATIC) $(LDFLAGS) $(LDLIBS_ALL)

$(BUILD)/tests/%: tests/unit/%.c $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -Itests/unit -o $@ $< $(STATIC) $(LDFLAGS) $(LDLIBS_ALL)

# gpt2.pc for the current PREFIX; `make install` writes it again, so an
# install to another PREFIX than the build's gets the right paths.
PC_SED := sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
  -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
  -e 's|@LIBS_PRIVATE@|$(LDLIBS_ALL)|' pkgconfig/gpt2.pc.in
$(BUILD)/gpt2.pc: pkgconfig/gpt2.pc.in include/gpt2.h
	$(PC_SED) > $@

# CMake package (cmake/*.in -> LIBDIR/cmake/gpt2/): paths relative to the
# config file's folder, so that DESTDIR and moved installs work; LIBDIR,
# INCLUDEDIR and BINDIR must lie under PREFIX.
under_prefix = $(if $(filter $(PREFIX)/%,$(1)),$(patsubst $(PREFIX)/%,%,$(1)),$(error $(1) is not under PREFIX $(PREFIX)))
CMAKE_SED = sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@VERSION_MAJOR@|$(VERSION_MAJOR)|g' \
  -e 's|@REL_LIBDIR@|$(call under_prefix,$(LIBDIR))|' \
  -e 's|@REL_INCLUDEDIR@|$(call under_prefix,$(INCLUDEDIR))|' \
  -e 's|@REL_BINDIR@|$(call under_prefix,$(BINDIR))|' \
  -e 's|@CONFIG_TO_PREFIX@|../..$(foreach part,$(subst /, ,$(call under_prefix,$(LIBDIR))),/..)|'

# The whole test suite; the last line it prints is "N passed, N failed".
# It builds with one job per core unless make is given -j (which wins).
ifneq ($(filter check,$(MAKECMDGOALS)),)
MAKEFLAGS += -j$(shell nproc)
endif
check: all $(TESTS)
	BUILD=$(BUILD) tests/run.sh

# The sanitizer passes alone; `make check` runs them too (tests/asan.test.sh:
# every unit test under ASan+UBSan in build-asan/; tests/tsan.test.sh: the
# thread test under TSan in build-tsan/). docs/reliability.md.
check-asan check-tsan: check-%: all
	BUILD=$(BUILD) bash tests/$*.test.sh

# Other ABIs (issue 19): every unit test built as 32-bit x86 code (gcc -m32,
# in build-m32/) or with musl-gcc (in build-musl/) and run; `make check` runs
# both too (tests/m32.test.sh, tests/musl.test.sh; each prints a skip where
# its compiler is missing). docs/reliability.md.
.PHONY: check-m32 check-musl
check-m32 check-musl: check-%: all
	BUILD=$(BUILD) bash tests/$*.test.sh

# The main job: generate text from a checkpoint (MODEL=dir or .gguf; by
# default a random-weight 124M-shape model that the repo's generator makes).
demo: all
	BUILD=$(BUILD) tests/demo.sh $(MODEL)

# Fuzzers (tests/fuzz/README.md): tests/fuzz/fuzz_NAME.c -> build-fuzz/fuzz/NAME,
# libFuzzer with ASan and UBSan, the library built by clang with coverage.
FUZZ_BUILD ?= build-fuzz
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
fuzz:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=clang SANITIZE=address,undefined \
	  CFLAGS=-fsanitize=fuzzer-no-link $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz/%)
$(BUILD)/fuzz/%: tests/fuzz/fuzz_%.c $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -fsanitize=fuzzer -o $@ $< $(STATIC) $(LDFLAGS) $(LDLIBS_ALL)

install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(BINDIR) \
	  $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 644 include/gpt2.h include/gpt2.hpp $(DESTDIR)$(INCLUDEDIR)/
	install -m 755 $(SHARED) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(SHARED)) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/$(SHARED_LINK)
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR)/
	$(PC_SED) > $(DESTDIR)$(LIBDIR)/pkgconfig/gpt2.pc
	install -d $(DESTDIR)$(LIBDIR)/cmake/gpt2
	$(CMAKE_SED) cmake/gpt2-config.cmake.in > $(DESTDIR)$(LIBDIR)/cmake/gpt2/gpt2-config.cmake
	$(CMAKE_SED) cmake/gpt2-config-version.cmake.in > $(DESTDIR)$(LIBDIR)/cmake/gpt2/gpt2-config-version.cmake
	for p in $(INSTALLED_PROGRAMS); do install -m 755 $$p $(DESTDIR)$(BINDIR)/; done

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/gpt2.h $(DESTDIR)$(INCLUDEDIR)/gpt2.hpp $(DESTDIR)$(LIBDIR)/libgpt2.* \
	  $(DESTDIR)$(LIBDIR)/pkgconfig/gpt2.pc $(DESTDIR)$(LIBDIR)/cmake/gpt2/gpt2-config*.cmake \
	  $(patsubst $(BUILD)/%,$(DESTDIR)$(BINDIR)/%,$(INSTALLED_PROGRAMS))

clean:
	rm -rf $(BUILD)

-include $(LIB_OBJ:.o=.d) $(addsuffix .d,$(PROGRAMS) $(CXX_PROGRAMS) $(TOOLS) $(BENCHES) $(TESTS)) \
  $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz/%.d)

# Windows x86-64 (MinGW-w64 cross build into build-win/, mk/windows.mk);
# tests/windows.test.sh runs it under Wine in `make check`.
WIN_BUILD ?= build-win
windows:
	$(MAKE) --no-print-directory -f mk/windows.mk BUILD=$(WIN_BUILD)
