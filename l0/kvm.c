/* KVM VM and vCPU lifecycle. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <x86intrin.h>

#include "l0/kvm.h"

#define NB_KVM_API_VERSION 12
#define MSR_IA32_TSC 0x10

static void kvm_detect_flavour(struct nb_kvm *k)
{
	static const struct {
		const char *module, *name;
	} flavours[] = {
		{"/sys/module/kvm_pvm", "pvm"},
		{"/sys/module/kvm_intel", "intel"},
		{"/sys/module/kvm_amd", "amd"},
	};
	struct stat st;
	size_t i;

	snprintf(k->flavour, sizeof(k->flavour), "unknown");
	for (i = 0; i < sizeof(flavours) / sizeof(flavours[0]); i++) {
		if (stat(flavours[i].module, &st) == 0) {
			snprintf(k->flavour, sizeof(k->flavour), "%s", flavours[i].name);
			return;
		}
	}
}

int nb_kvm_open(struct nb_kvm *k, const char *path, struct nb_error *err)
{
	struct stat st;
	int version;

	memset(k, 0, sizeof(*k));
	k->kvm_fd = k->vm_fd = k->vcpu_fd = -1;
	k->kvm_fd = open(path, O_RDWR | O_CLOEXEC);
	if (k->kvm_fd < 0) {
		if (errno == ENOENT)
			return nb_error_set(err, NB_E_KVM,
					    "KVM device '%s': not found (is the kvm module loaded, "
					    "and does this machine allow virtualization?)",
					    path);
		return nb_error_set(err, NB_E_KVM, "KVM device '%s': %s%s", path, strerror(errno),
				    errno == EACCES ? " (run as root or join the kvm group)" : "");
	}
	if (fstat(k->kvm_fd, &st) == 0 && !S_ISCHR(st.st_mode)) {
		nb_kvm_close(k);
		return nb_error_set(err, NB_E_KVM, "KVM device '%s': not a KVM device (not a character device)", path);
	}
	version = ioctl(k->kvm_fd, KVM_GET_API_VERSION, 0);
	if (version < 0) {
		nb_kvm_close(k);
		return nb_error_set(err, NB_E_KVM, "KVM device '%s': not a KVM device (KVM_GET_API_VERSION: %s)",
				    path, strerror(errno));
	}
	if (version != NB_KVM_API_VERSION) {
		nb_kvm_close(k);
		return nb_error_set(err, NB_E_KVM, "KVM device '%s': API version %d, nestbed needs %d", path,
				    version, NB_KVM_API_VERSION);
	}
	kvm_detect_flavour(k);
	return 0;
}

static int kvm_set_cpuid(struct nb_kvm *k, struct nb_error *err)
{
	int n = 128, rc;
	struct kvm_cpuid2 *cpuid;

	for (;;) {
		cpuid = calloc(1, sizeof(*cpuid) + n * sizeof(cpuid->entries[0]));
		if (!cpuid)
			return nb_error_set(err, NB_E_NOMEM, "out of memory for CPUID entries");
		cpuid->nent = n;
		rc = ioctl(k->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid);
		if (rc == 0 || errno != E2BIG || n >= 4096)
			break;
		free(cpuid);
		n *= 2;
	}
	if (rc < 0) {
		free(cpuid);
		return nb_error_set(err, NB_E_KVM, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
	}
	/* The supported list carries the APIC ID of whichever host CPU answered; the guest's one
	 * vCPU has APIC ID 0 (leaf 1 EBX[31:24], leaf 0xB EDX). */
	for (int i = 0; i < (int)cpuid->nent; i++) {
		if (cpuid->entries[i].function == 1)
			cpuid->entries[i].ebx &= 0x00ffffffu;
		else if (cpuid->entries[i].function == 0xb || cpuid->entries[i].function == 0x1f)
			cpuid->entries[i].edx = 0;
	}
	rc = ioctl(k->vcpu_fd, KVM_SET_CPUID2, cpuid);
	free(cpuid);
	if (rc < 0)
		return nb_error_set(err, NB_E_KVM, "KVM_SET_CPUID2: %s", strerror(errno));
	return 0;
}

int nb_kvm_create_machine(struct nb_kvm *k, uint64_t mem_size, struct nb_error *err)
{
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	struct kvm_userspace_memory_region region;
	void *mem;

	k->vm_fd = ioctl(k->kvm_fd, KVM_CREATE_VM, 0);
	if (k->vm_fd < 0)
		return nb_error_set(err, NB_E_KVM, "KVM_CREATE_VM: %s", strerror(errno));
	/* Where the CPU has VMX, KVM needs three pages for the real-mode TSS; harmless elsewhere. */
	ioctl(k->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul);
	/* The in-kernel LAPIC, IOAPIC and PIC: guests program their own timer interrupts. */
	if (ioctl(k->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return nb_error_set(err, NB_E_KVM, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
	if (ioctl(k->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return nb_error_set(err, NB_E_KVM, "KVM_CREATE_PIT2: %s", strerror(errno));

	mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		return nb_error_set(err, NB_E_NOMEM, "guest memory of %llu MiB: %s",
				    (unsigned long long)(mem_size >> 20), strerror(errno));
	k->mem = mem;
	k->mem_size = mem_size;
	region = (struct kvm_userspace_memory_region){
		.slot = 0, .guest_phys_addr = 0, .memory_size = mem_size, .userspace_addr = (uintptr_t)mem};
	if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return nb_error_set(err, NB_E_KVM, "KVM_SET_USER_MEMORY_REGION (%llu MiB): %s",
				    (unsigned long long)(mem_size >> 20), strerror(errno));

	k->vcpu_fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, 0);
	if (k->vcpu_fd < 0)
		return nb_error_set(err, NB_E_KVM, "KVM_CREATE_VCPU: %s", strerror(errno));
	k->run_size = ioctl(k->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (k->run_size <= 0)
		return nb_error_set(err, NB_E_KVM, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
	k->run = mmap(NULL, k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, k->vcpu_fd, 0);
	if (k->run == MAP_FAILED) {
		k->run = NULL;
		return nb_error_set(err, NB_E_KVM, "mmap of the vCPU run structure: %s", strerror(errno));
	}
	if (ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS) & KVM_SYNC_X86_REGS) {
		k->sync_regs = 1;
		k->run->kvm_valid_regs = KVM_SYNC_X86_REGS;
	}
	return kvm_set_cpuid(k, err);
}

void nb_kvm_close(struct nb_kvm *k)
{
	if (k->run)
		munmap(k->run, k->run_size);
	if (k->mem)
		munmap(k->mem, k->mem_size);
	if (k->vcpu_fd >= 0)
		close(k->vcpu_fd);
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->kvm_fd >= 0)
		close(k->kvm_fd);
	k->run = NULL;
	k->mem = NULL;
	k->vcpu_fd = k->vm_fd = k->kvm_fd = -1;
}

int nb_kvm_get_regs(struct nb_kvm *k, struct kvm_regs *regs)
{
	if (k->sync_regs) {
		*regs = k->run->s.regs.regs;
		return 0;
	}
	return ioctl(k->vcpu_fd, KVM_GET_REGS, regs);
}

int nb_kvm_set_regs(struct nb_kvm *k, const struct kvm_regs *regs)
{
	if (k->sync_regs) {
		k->run->s.regs.regs = *regs;
		k->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
		return 0;
	}
	return ioctl(k->vcpu_fd, KVM_SET_REGS, regs);
}

int nb_kvm_get_sregs(struct nb_kvm *k, struct kvm_sregs *sregs)
{
	return ioctl(k->vcpu_fd, KVM_GET_SREGS, sregs);
}

int64_t nb_kvm_tsc_offset(struct nb_kvm *k)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry entry;
	} msrs = {.hdr.nmsrs = 1, .entry.index = MSR_IA32_TSC};
	uint64_t before = __rdtsc();

	if (ioctl(k->vcpu_fd, KVM_GET_MSRS, &msrs) != 1)
		return 0;
	return (int64_t)(msrs.entry.data - (before + (__rdtsc() - before) / 2));
}

uint64_t nb_kvm_tsc_khz(struct nb_kvm *k)
{
	int khz = ioctl(k->vcpu_fd, KVM_GET_TSC_KHZ, 0);
	return khz > 0 ? (uint64_t)khz : 0;
}

int64_t nb_kvm_translate(struct nb_kvm *k, uint64_t linear)
{
	struct kvm_translation t = {.linear_address = linear};

	if (ioctl(k->vcpu_fd, KVM_TRANSLATE, &t) < 0 || !t.valid)
		return -1;
	return (int64_t)t.physical_address;
}

size_t nb_kvm_read_linear(struct nb_kvm *k, uint64_t la, uint8_t *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		int64_t pa = nb_kvm_translate(k, la + done);
		size_t chunk = 4096 - ((la + done) & 4095);

		if (pa < 0 || (uint64_t)pa >= k->mem_size)
			break;
		if (chunk > len - done)
			chunk = len - done;
		if (chunk > k->mem_size - (uint64_t)pa)
			chunk = k->mem_size - (uint64_t)pa;
		memcpy(buf + done, k->mem + pa, chunk);
		done += chunk;
	}
	return done;
}
