# libgpt2 for Windows x86-64, cross-built with MinGW-w64 into build-win/:
# libgpt2.dll with its import library libgpt2.dll.a, the static library
# libgpt2.a, the programs (*.exe, linked to the DLL) and the unit tests
# (tests/*.exe, linked to the static library). `make windows` runs this
# file; tests/windows.test.sh runs the results under Wine.
include mk/version.mk

BUILD ?= build-win
CC := $(or $(WIN_CC),x86_64-w64-mingw32-gcc)
AR := $(or $(WIN_AR),x86_64-w64-mingw32-ar)
OPT ?= -O2

# One set of objects serves both libraries (GPT2_STATIC: GPT2_API adds no
# decoration); the DLL exports exactly the GPT2_API functions of the header,
# listed in a .def file made from it. __USE_MINGW_ANSI_STDIO: C99 printf
# (%zu) instead of msvcrt's.
WARN := -Wall -Wextra -Wpedantic -Werror
CFLAGS_ALL := -std=c11 $(OPT) -g $(WARN) -D__USE_MINGW_ANSI_STDIO=1 -Iinclude -Ilib $(CFLAGS)
LIB_SRC := $(sort $(shell find lib -name '*.c'))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
DLL := $(BUILD)/libgpt2.dll
IMPLIB := $(BUILD)/libgpt2.dll.a
STATIC := $(BUILD)/libgpt2.a
DEF := $(BUILD)/libgpt2.def

# Programs and tests link libgcc and winpthread (the pthreads and
# clock_gettime that examples and tests use; the library itself uses Win32)
# statically, so that they run without MinGW's DLLs.
PROGRAMS := $(patsubst examples/%.c,$(BUILD)/%.exe,$(wildcard examples/*.c))
# Not built here, printed as skips by tests/windows.test.sh: test_stack
# (guard pages made with mmap), test_regressions (the fuzz harness,
# which maps its inputs with mmap) and test_limits (a 4 GiB sparse file
# and a mapping of zero pages, POSIX calls).
WIN_SKIPPED_TESTS := test_stack test_regressions test_limits
TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%.exe,\
  $(filter-out $(WIN_SKIPPED_TESTS:%=tests/unit/%.c),$(wildcard tests/unit/*.c)))
TOOLS := $(BUILD)/tools/gen_model.exe

.PHONY: all
all: $(DLL) $(STATIC) $(PROGRAMS) $(TESTS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -DGPT2_STATIC -MMD -MP -c $< -o $@

$(DEF): include/gpt2.h tools/gen_def.sh
	@mkdir -p $(dir $@)
	sh tools/gen_def.sh $< $@

$(DLL): $(LIB_OBJ) $(DEF)
	$(CC) -shared -static-libgcc -o $@ $(LIB_OBJ) $(DEF) -Wl,--out-implib,$(IMPLIB) \
	  -Wl,--no-undefined $(LDFLAGS)
$(IMPLIB): $(DLL)

$(STATIC): $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/%.exe: examples/%.c $(IMPLIB)
	$(CC) $(CFLAGS_ALL) -MMD -MP -o $@ $< $(IMPLIB) -static $(LDFLAGS) -lpthread

$(BUILD)/tests/%.exe: tests/unit/%.c $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -DGPT2_STATIC -MMD -MP -Itests/unit -o $@ $< $(STATIC) -static $(LDFLAGS) -lpthread

-include $(LIB_OBJ:.o=.d) $(PROGRAMS:.exe=.d) $(TESTS:.exe=.d)
