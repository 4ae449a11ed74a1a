# omnic build. `make` builds build/omnic; `make test` runs the whole suite on the
# normal build and again under AddressSanitizer + UBSan (build-san/).
CC      ?= cc
PKGS    := jansson libpcre2-8 libmicrohttpd libjpeg libpng libwebp libwebpdemux \
           libavformat libavcodec libswscale libswresample libavutil libcurl zlib
BUILD   ?= build
SAN     ?= 0
OPT     ?= -O2
CFLAGS_BASE := -std=gnu11 -Wall -Wextra -Werror -g -fno-strict-aliasing -pthread \
               -Iinclude -Isrc $(shell pkg-config --cflags $(PKGS))
ifeq ($(SAN),1)
  BUILD := build-san
  CFLAGS_BASE += -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
  LDSAN := -fsanitize=address,undefined
endif
CFLAGS  := $(CFLAGS_BASE) $(OPT) $(EXTRA_CFLAGS)
LDLIBS  := $(shell pkg-config --libs $(PKGS)) -lgif -lm -pthread $(LDSAN)

LIB_SRC := $(sort $(wildcard src/core/*.c src/kernels/*.c src/formats/*.c src/models/*.c src/text/*.c \
                      src/media/*.c src/audit/*.c))
CLI_SRC := $(sort $(wildcard src/cli/*.c src/serve/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

# Files named *_avx512.c are compiled for AVX-512 (+BF16, VNNI) and only
# called after a runtime CPU check (src/kernels/cpu.c).
AVX512_FLAGS := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512bf16 -mavx512vnni -mfma -mf16c

.PHONY: all test unit clean san
all: $(BUILD)/omnic $(UNIT_BIN)

$(BUILD)/libomnic.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/omnic: $(CLI_OBJ) $(BUILD)/libomnic.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/src/kernels/%_avx512.o: src/kernels/%_avx512.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(AVX512_FLAGS) -MMD -MP -c -o $@ $<

# Files named *_amx.c also use Intel AMX tiles (called only after amx_available());
# no contraction, so their float operations match the scalar level's exactly.
AMX_FLAGS := $(AVX512_FLAGS) -mamx-tile -mamx-int8 -mamx-bf16 -ffp-contract=off

$(BUILD)/src/kernels/%_amx.o: src/kernels/%_amx.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(AMX_FLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libomnic.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(BUILD)/libomnic.a $(LDLIBS) -lcmocka

san:
	$(MAKE) SAN=1 OPT=-O1 all

# The test runner prints one "N passed, N failed" line at the end.
test: all
	$(MAKE) san
	./tests/run_all.sh build build-san

unit: all
	./tests/run_all.sh --unit-only build

clean:
	rm -rf build build-san

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
