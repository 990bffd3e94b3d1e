/*
 * The binary trace record and the trace ring: the one contract between every level that records
 * events (guests, nbvmm at each depth) and the host that stores them.
 *
 * Ring protocol (single producer = the guest level that owns the ring, single consumer = its
 * parent; at L1 the parent is L0):
 *   - The ring is a struct nb_ring header followed by `capacity` records; capacity is a power
 *     of two and the whole ring is trace_ring_size bytes as given in the boot info.
 *   - head counts records ever produced, tail counts records ever consumed; both only grow.
 *     Slot of record i is i & (capacity - 1).
 *   - Producer: if head - tail == capacity the ring is full: increment `lost` and drop the
 *     record (losing is never silent). Otherwise fill the slot, then store seq = i + 1 last
 *     (after a compiler barrier), then head = i + 1. A record whose seq does not match its index
 *     is torn (the producer was stopped mid-write) or forged; the consumer counts and skips it.
 *   - Consumer: reads head, then records tail..head-1, then sets tail = head. It never trusts
 *     the ring's header for sizes: capacity comes from its own copy of the boot info.
 *   - The producer asks for a drain with the NB_HC_TRACE_FLUSH hypercall (when the ring is more
 *     than half full, and before exit); the consumer also drains when the guest stops.
 *
 * Unsigned 64-bit values are stored as they are; the SQLite store bit-casts them to signed
 * 64-bit integers and its views show them as hex.
 */
#ifndef NESTBED_TRACE_FORMAT_H
#define NESTBED_TRACE_FORMAT_H

#include <stdint.h>

#define NB_RING_MAGIC 0x474e4952u /* "RING" */
#define NB_RING_VERSION 1

/* What a record says happened. Names are in the store's event_kinds table (db/schema.sql). */
enum nb_event_kind {
	NB_EV_NONE = 0,
	NB_EV_TRAP = 1,          /* a trap handled by the recording level: exit_code says which */
	NB_EV_EXIT_REFLECTED = 2,/* an exit reflected to a nested hypervisor as #VMEXIT: exit_code,
				  * exit_info1/2 as written into its VMCB, new_val = next RIP, addr =
				  * the VMCB, aux = the level of the hypervisor that handles it; a
				  * VMRUN refused for an inconsistent VMCB is exit_code VMEXIT_INVALID
				  * (-1) with exit_info1 = the check that failed (svm_nested.h) */
	NB_EV_VMRUN = 3,         /* a nested VMRUN: addr = the VMCB, rip = the nested guest's,
				  * exit_info2 = nested_ctl; where the intercepts came from (nbvmm's
				  * engine or the hypervisor): exit_info1 = exception bits the hypervisor
				  * alone asked for | nbvmm's alone << 32, old_val = misc1 | misc2 << 32
				  * of nbvmm's alone, new_val = the same of the hypervisor's alone; aux =
				  * the hypervisor's level */
	NB_EV_PT_WRITE = 4,      /* guest page-table write: addr = gpa of entry, old/new values, aux = table level */
	NB_EV_SHADOW_FILL = 5,   /* shadow entry built: addr = guest virtual, new_val = shadow pte, aux = level */
	NB_EV_SHADOW_ZAP = 6,    /* shadow entries dropped: addr = what, aux = how many */
	NB_EV_CR3_SWITCH = 7,    /* old_val / new_val = old and new guest CR3 */
	NB_EV_INVLPG = 8,        /* addr = guest virtual address */
	NB_EV_HYPERCALL = 9,     /* exit_code = the exit that carried it (IOIO), aux = hypercall number, addr/old_val/new_val = RDI/RSI/RCX, exit_info2 = result */
	NB_EV_CONSOLE = 10,      /* console output; the text is in the store's console table */
	NB_EV_VIOLATION = 11,    /* a sensitive instruction executed without trapping */
	NB_EV_GUEST = 12,        /* a record a guest kernel wrote for its own purposes */
	NB_EV_IO = 13,           /* port I/O: addr = port, new_val = value out / old_val = value in, aux = size | dir<<8 */
	NB_EV_MMIO = 14,         /* MMIO: addr = gpa, new_val / old_val, aux = size | dir<<8 */
	NB_EV_HLT = 15,          /* the vCPU halted */
	NB_EV_SHUTDOWN = 16,     /* triple fault / shutdown */
	NB_EV_INTERRUPT = 17,    /* an interrupt delivered to a guest: aux = vector */
	NB_EV_EXCEPTION = 18,    /* an exception delivered to a guest: aux = vector, exit_info1 = error code */
	NB_EV_APIC = 19,         /* an access to the (virtual) local APIC: addr = register offset */
	NB_EV_EMULATION_ERROR = 20, /* the recording level could not emulate an instruction */
	/* What KVM itself did to L1, recorded by L0 (as root) from tracefs (l0/kvm_tracefs.c). These
	 * are level-0 events but not exits to L0's userspace: views counting L0's exits leave
	 * kinds NB_EV_KVM_FIRST..NB_EV_KVM_LAST out. exit_code is 0 except for KVM_EXIT. */
	NB_EV_KVM_INJ_EXCEPTION = 21, /* kvm:kvm_inj_exception: aux = vector, exit_info1 = error code, exit_info2 = has_error */
	NB_EV_KVM_PIO = 22,      /* kvm:kvm_pio: addr = port, new_val = value, aux = size | dir<<8, exit_info1 = count */
	NB_EV_KVM_MMIO = 23,     /* kvm:kvm_mmio: addr = gpa, new_val = value, aux = size | dir<<8, exit_info1 = KVM's type */
	NB_EV_KVM_EMULATED = 24, /* kvm:kvm_emulate_insn, aggregated: aux = instructions KVM emulated in a row (no
				  * other KVM event and no L1 trap record between them), ts = the first's,
				  * exit_info2 = the last's timestamp, rip = the first's RIP */
	NB_EV_KVM_EXIT = 25,     /* kvm:kvm_exit (VMX/SVM hosts): exit_code = KVM's exit reason, exit_info1/2 = info1/2 */
	/* Numbered after KVM's kinds only because those numbers were taken (stored traces keep them). */
	NB_EV_GPT_WALK = 26,     /* the guest walk a SHADOW_FILL (the next record) was built from: addr = gva,
				  * exit_code = guest CR3, exit_info1, exit_info2, old_val, new_val = the
				  * entries at levels 4, 3, 2, 1 after the walk (0: not read), aux = top
				  * level | leaf level << 8 | mode << 16 | A/D set << 24 (shadow/spt.h) */
	NB_EV_NPT_WRITE = 27,    /* a write of a nested hypervisor to its nested page table (guest_level = the
				  * hypervisor's): addr = gpa of the entry, old/new values, aux = the level
				  * of the nested guest whose translations it changes */
	NB_EV_KIND_COUNT
};

#define NB_EV_KVM_FIRST NB_EV_KVM_INJ_EXCEPTION
#define NB_EV_KVM_LAST NB_EV_KVM_EXIT

/* What the recording level did about a trap (NB_EV_TRAP's action field). */
enum nb_trap_action {
	NB_ACT_NONE = 0,
	NB_ACT_EMULATED = 1,
	NB_ACT_DELIVERED = 2, /* reflected into the guest through its own IDT */
	NB_ACT_SHADOW_FILL = 3,
	NB_ACT_FORWARDED = 4, /* passed to the parent level (port I/O, hypercalls) */
	NB_ACT_STOPPED = 5,   /* the guest was stopped */
};

/* Direction bits in aux for NB_EV_IO / NB_EV_MMIO. */
#define NB_IO_DIR_OUT 0x100u

struct nb_trace_record {
	uint64_t seq;       /* index + 1 of this record in its ring; written last (see above) */
	uint64_t tsc;       /* timestamp: the recording level's TSC */
	uint16_t kind;      /* enum nb_event_kind */
	uint8_t rec_level;  /* level that recorded it (0 = the host) */
	uint8_t guest_level;/* level of the guest it is about */
	uint16_t vm_id;     /* that guest's id */
	uint16_t vcpu;
	uint8_t action;     /* enum nb_trap_action */
	uint8_t insn_len;   /* valid bytes in insn[], 0 if none */
	uint16_t reserved0;
	uint32_t reserved1;
	uint64_t exit_code; /* SVM exit code (SVM_EXIT_*), or the hypercall number */
	uint64_t exit_info1;
	uint64_t exit_info2;
	uint64_t rip;       /* guest RIP */
	uint64_t addr;      /* address the event is about (gva, gpa or port) */
	uint64_t old_val;
	uint64_t new_val;
	uint64_t aux;       /* kind-specific: table level, vector, size/direction... */
	uint8_t insn[16];   /* bytes of the instruction involved */
	uint64_t reserved2[2]; /* zero; room for later fields without changing the record size */
};

_Static_assert(sizeof(struct nb_trace_record) == 128, "trace record is 128 bytes");

struct nb_ring {
	uint32_t magic;     /* NB_RING_MAGIC */
	uint16_t version;   /* NB_RING_VERSION */
	uint16_t record_size;/* sizeof(struct nb_trace_record) */
	uint32_t capacity;  /* records; a power of two */
	uint32_t reserved0;
	volatile uint64_t head; /* records produced (written by the producer) */
	volatile uint64_t tail; /* records consumed (written by the consumer) */
	volatile uint64_t lost; /* records dropped because the ring was full (producer) */
	uint64_t reserved1[3];
	/* struct nb_trace_record records[capacity] follows, 64-byte aligned */
};

#define NB_RING_HEADER_SIZE 64u
_Static_assert(sizeof(struct nb_ring) == NB_RING_HEADER_SIZE, "ring header is 64 bytes");

/* Capacity of a ring of `bytes` total bytes: the largest power of two that fits. */
static inline uint32_t nb_ring_capacity_for(uint64_t bytes)
{
	uint64_t n, cap = 0;
	if (bytes <= NB_RING_HEADER_SIZE)
		return 0;
	n = (bytes - NB_RING_HEADER_SIZE) / sizeof(struct nb_trace_record);
	for (cap = 1; cap * 2 <= n && cap < 0x80000000u; cap *= 2)
		;
	return n ? (uint32_t)cap : 0;
}

static inline struct nb_trace_record *nb_ring_records(struct nb_ring *r)
{
	return (struct nb_trace_record *)((uint8_t *)r + NB_RING_HEADER_SIZE);
}

#endif
