# l0: build rules (included from l0/local.mk).
l0_libnestbed_la_SOURCES += \
	l0/boot_loader.c \
	l0/boot_cpu_state.c \
	l0/boot_info.c \
	l0/elf_loader.c \
	l0/multiboot_loader.c \
	l0/file.c \
	l0/boot_internal.h \
	l0/multiboot.h
