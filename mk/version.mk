# The version, read from include/gpt2.h (its one source); the Makefile and
# mk/windows.mk include this.
VERSION_MAJOR := $(shell sed -n 's/^\#define GPT2_VERSION_MAJOR \([0-9]*\)/\1/p' include/gpt2.h)
VERSION_MINOR := $(shell sed -n 's/^\#define GPT2_VERSION_MINOR \([0-9]*\)/\1/p' include/gpt2.h)
VERSION_PATCH := $(shell sed -n 's/^\#define GPT2_VERSION_PATCH \([0-9]*\)/\1/p' include/gpt2.h)
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)
