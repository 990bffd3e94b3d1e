/*
 * mbhello: a Multiboot v1 kernel booted the way `qemu -kernel` boots one, to check nestbed's
 * Multiboot loader. It prints what the loader handed over and exits through isa-debug-exit with
 * 0 when every check passed (process status 1), else with the number of the first failed check
 * (all failures are printed). With "exit=N" on the command line it exits with N when all
 * checks passed, so a test can tell a command line was delivered.
 */
#include "guests/lib/nbguest.h"
#include "guests/mbhello/multiboot.h"

enum mb_check {
	MB_FAIL_MAGIC = 1,     /* EAX is not 0x2BADB002 */
	MB_FAIL_INFO = 2,      /* no info pointer, or no memory fields though the header asked */
	MB_FAIL_MEMORY = 3,    /* mem_lower above 640 KiB or mem_upper zero */
	MB_FAIL_CMDLINE = 4,   /* command line pointer null or string unterminated */
	MB_FAIL_MODULE = 5,    /* module range empty-inverted, unaligned, over the kernel or past RAM */
	MB_FAIL_MODSTRING = 6, /* module string pointer null or unterminated */
	MB_FAIL_DATA = 7,      /* .data not loaded from the image */
	MB_FAIL_BSS = 8,       /* .bss not zeroed by the loader */
	MB_FAIL_CPU = 9,       /* not the state the spec promises: PE on, PG off, IF and VM off */
};

#ifdef NB_MB_KLUDGE
#define MB_VARIANT "a.out kludge"
#else
#define MB_VARIANT "ELF"
#endif

#define MB_STRING_MAX 4096
#define MB_MMAP_MAX 32

extern char __load_start[], __bss_end[];

/* Known contents the loader must have copied (.data) or zeroed (.bss); volatile so they are
 * read from memory and not folded by the compiler. */
static volatile uint32_t data_canary = 0x600dda7a;
static volatile uint32_t bss_canary[16];

static int first_failure;

uint32_t mb_main(uint32_t magic, uint32_t info_addr);

static void fail(enum mb_check check, const char *what)
{
	nb_printf("mbhello: FAIL check %d: %s\n", check, what);
	if (!first_failure)
		first_failure = check;
}

static int string_ok(uint32_t addr)
{
	return addr != 0 && nb_strnlen((const char *)addr, MB_STRING_MAX) < MB_STRING_MAX;
}

static void check_image(void)
{
	unsigned i;

	if (data_canary != 0x600dda7a)
		fail(MB_FAIL_DATA, ".data canary changed");
	for (i = 0; i < sizeof(bss_canary) / sizeof(bss_canary[0]); i++)
		if (bss_canary[i] != 0) {
			fail(MB_FAIL_BSS, ".bss not zero");
			break;
		}
}

static void check_cpu(void)
{
	uint32_t cr0, eflags;

	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	__asm__ volatile("pushfl; popl %0" : "=r"(eflags));
	nb_printf("cr0 0x%x eflags 0x%x\n", cr0, eflags);
	if (!(cr0 & 1) || (cr0 & 0x80000000u) || (eflags & (1u << 9)) || (eflags & (1u << 17)))
		fail(MB_FAIL_CPU, "entry state is not PE on, PG off, IF off, VM off");
}

static void check_modules(const struct mb_info *mbi)
{
	const struct mb_module *m = (const struct mb_module *)mbi->mods_addr;
	uint64_t ram_end = 0x100000ull + (uint64_t)mbi->mem_upper * 1024;
	uint32_t i;

	nb_printf("modules: %u at 0x%x\n", mbi->mods_count, mbi->mods_addr);
	if (mbi->mods_count && !m) {
		fail(MB_FAIL_MODULE, "module table pointer is null");
		return;
	}
	for (i = 0; i < mbi->mods_count; i++, m++) {
		int str_ok = string_ok(m->string);

		nb_printf("module %u: start 0x%x end 0x%x string \"%s\"\n", i, m->mod_start,
			  m->mod_end, str_ok ? (const char *)m->string : "?");
		if (!str_ok)
			fail(MB_FAIL_MODSTRING, "module string unterminated or null");
		if (m->mod_end < m->mod_start || (m->mod_start & 0xfff) ||
		    (m->mod_start < (uintptr_t)__bss_end && m->mod_end > (uintptr_t)__load_start) ||
		    m->mod_end > ram_end) {
			fail(MB_FAIL_MODULE, "module range inverted, unaligned, over the kernel or past RAM");
			continue;
		}
		nb_printf("module %u: data ", i);
		nb_print_preview((const void *)m->mod_start,
				 m->mod_end - m->mod_start < 16 ? m->mod_end - m->mod_start : 16);
		nb_printf("\n");
	}
}

static void print_mmap(const struct mb_info *mbi)
{
	uint32_t off = 0, n = 0;

	while (off + sizeof(struct mb_mmap_entry) <= mbi->mmap_length && n++ < MB_MMAP_MAX) {
		const struct mb_mmap_entry *e = (const void *)(mbi->mmap_addr + off);

		nb_printf("mmap: base 0x%llx length 0x%llx type %u\n", (unsigned long long)e->base_addr,
			  (unsigned long long)e->length, e->type);
		off += e->size + 4;
	}
}

uint32_t mb_main(uint32_t magic, uint32_t info_addr)
{
	const struct mb_info *mbi = (const struct mb_info *)info_addr;
	const char *cmdline = "";

	nb_printf("mbhello (%s header): magic 0x%x info 0x%x\n", MB_VARIANT, magic, info_addr);
	check_image();
	check_cpu();
	if (magic != MB_BOOT_MAGIC)
		fail(MB_FAIL_MAGIC, "bad boot magic");
	if (!mbi) {
		fail(MB_FAIL_INFO, "no multiboot info");
		return (uint32_t)first_failure;
	}
	nb_printf("flags 0x%x\n", mbi->flags);
	if (!(mbi->flags & MB_IF_MEMORY)) {
		fail(MB_FAIL_INFO, "no memory fields though the header asked for them");
	} else {
		nb_printf("mem_lower %u KiB mem_upper %u KiB\n", mbi->mem_lower, mbi->mem_upper);
		if (mbi->mem_lower > 640 || mbi->mem_upper == 0)
			fail(MB_FAIL_MEMORY, "implausible mem_lower/mem_upper");
	}
	if (mbi->flags & MB_IF_CMDLINE) {
		if (string_ok(mbi->cmdline))
			cmdline = (const char *)mbi->cmdline;
		else
			fail(MB_FAIL_CMDLINE, "command line unterminated or null");
	}
	nb_printf("cmdline \"%s\"\n", cmdline);
	if (mbi->flags & MB_IF_MODS)
		check_modules(mbi);
	if (mbi->flags & MB_IF_MMAP)
		print_mmap(mbi);
	if ((mbi->flags & MB_IF_LOADER_NAME) && string_ok(mbi->boot_loader_name))
		nb_printf("boot loader \"%s\"\n", (const char *)mbi->boot_loader_name);
	if (first_failure) {
		nb_printf("mbhello: failed, exit %d\n", first_failure);
		return (uint32_t)first_failure;
	}
	nb_printf("mbhello: all checks passed\n");
	return (uint32_t)nb_opt_u64(cmdline, "exit", 0);
}
