# tests/unit: the boot loader's tests (included from tests/local.mk). Images are built in memory
# by the tests themselves; nothing here needs /dev/kvm.
loader_test_cflags = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
loader_test_ldadd = l0/libnestbed.la $(CMOCKA_LIBS)

check_PROGRAMS += tests/unit/test_boot_loader tests/unit/test_multiboot_loader tests/unit/test_file_read
TESTS += tests/unit/test_boot_loader tests/unit/test_multiboot_loader tests/unit/test_file_read

tests_unit_test_boot_loader_SOURCES = tests/unit/test_boot_loader.c \
	tests/unit/boot_test_util.c tests/unit/boot_test_util.h
tests_unit_test_boot_loader_CFLAGS = $(loader_test_cflags)
tests_unit_test_boot_loader_LDADD = $(loader_test_ldadd)

tests_unit_test_multiboot_loader_SOURCES = tests/unit/test_multiboot_loader.c \
	tests/unit/boot_test_util.c tests/unit/boot_test_util.h
tests_unit_test_multiboot_loader_CFLAGS = $(loader_test_cflags)
tests_unit_test_multiboot_loader_LDADD = $(loader_test_ldadd)

tests_unit_test_file_read_SOURCES = tests/unit/test_file_read.c
tests_unit_test_file_read_CFLAGS = $(loader_test_cflags)
tests_unit_test_file_read_LDADD = $(loader_test_ldadd)
