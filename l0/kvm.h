/* The KVM API, reduced to what one nestbed machine needs: one VM, one memory slot, one vCPU. */
#ifndef NESTBED_KVM_H
#define NESTBED_KVM_H

#include <linux/kvm.h>
#include <stdint.h>

#include "l0/nestbed.h"

struct nb_kvm {
	int kvm_fd;
	int vm_fd;
	int vcpu_fd;
	struct kvm_run *run;
	int run_size;
	uint8_t *mem;      /* host mapping of guest-physical [0, mem_size) */
	uint64_t mem_size;
	int sync_regs;     /* KVM_CAP_SYNC_REGS: registers come with every exit for free */
	char flavour[16];  /* "pvm", "intel", "amd", "unknown" */
};

/* Opens the device and checks it is KVM with the API version nestbed was written for. */
int nb_kvm_open(struct nb_kvm *k, const char *path, struct nb_error *err);
/* Creates the VM with the in-kernel irqchip and PIT, its RAM, and vCPU 0 with the host's CPUID. */
int nb_kvm_create_machine(struct nb_kvm *k, uint64_t mem_size, struct nb_error *err);
void nb_kvm_close(struct nb_kvm *k);

int nb_kvm_get_regs(struct nb_kvm *k, struct kvm_regs *regs);
/* Writes back registers; with sync regs, through the run structure at the next entry. */
int nb_kvm_set_regs(struct nb_kvm *k, const struct kvm_regs *regs);
int nb_kvm_get_sregs(struct nb_kvm *k, struct kvm_sregs *sregs);

/* The guest's TSC minus the host's, so host timestamps share the guest's time base. */
int64_t nb_kvm_tsc_offset(struct nb_kvm *k);
uint64_t nb_kvm_tsc_khz(struct nb_kvm *k);

/* Translates a guest linear address with the vCPU's current paging; -1 if unmapped. */
int64_t nb_kvm_translate(struct nb_kvm *k, uint64_t linear);

/* Copies up to len bytes of guest memory at linear address la (stops at an unmapped page or the
 * end of RAM); returns the number copied. */
size_t nb_kvm_read_linear(struct nb_kvm *k, uint64_t la, uint8_t *buf, size_t len);

#endif
