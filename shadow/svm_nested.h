/*
 * Virtual SVM: the architecture nbvmm follows when a guest of its own is a hypervisor that runs
 * its guests with VMRUN (AMD64 Architecture Programmer's Manual, Volume 2, chapter 15 "Secure
 * Virtual Machine"; section numbers below are that chapter's).
 *
 * Names, in KVM's: the nested hypervisor hands VMRUN its own VMCB, "VMCB12" (level 1 describes
 * level 2); nbvmm keeps its own intercept needs for that guest ("own", KVM's vmcb01 controls);
 * the two are merged into the VMCB nbvmm really runs the nested guest with ("VMCB02").
 *
 * The steps of a virtual VMRUN, one function each, in the order nbvmm calls them:
 *   1. svm_nested_check_vmcb: VMCB12 must be a state VMRUN accepts (§15.5.1), or VMRUN "fails"
 *      with #VMEXIT(VMEXIT_INVALID) straight back to the nested hypervisor.
 *   2. svm_nested_merge_controls: VMCB12's controls combined with nbvmm's own needs.
 *   3. running the nested guest; on each exit, svm_nested_exit_wanted says whether VMCB12
 *      intercepts it (reflect it as #VMEXIT) or whether nbvmm handles it and resumes.
 *   4. reflecting: svm_nested_vmexit_fill writes what a real #VMEXIT writes into VMCB12 (§15.6).
 * Around them: svm_vmload_fields / svm_vmsave_fields for the nested hypervisor's VMLOAD and
 * VMSAVE (§15.5.2), and svm_npt_translate, the walk of the nested hypervisor's nested page tables
 * (§15.25) that nbvmm composes with its own map.
 *
 * Freestanding like the rest of shadow/: no globals, no library; guest memory (the permission
 * maps, the nested page tables) is reached only through struct shadow_ops.
 */
#ifndef NESTBED_SHADOW_SVM_NESTED_H
#define NESTBED_SHADOW_SVM_NESTED_H

#include <stdbool.h>
#include <stdint.h>

#include "shadow/gpt_walk.h"
#include "shadow/shadow_ops.h"
#include "shadow/vmcb.h"

/* Register bits the checks read (APM Vol 2 §3.1 "System-Control Registers"), besides those of
 * gpt_walk.h (CR0.PG, CR0.WP, CR4.PAE, CR4.PSE, EFER.LMA, EFER.NXE). */
#define X86_CR0_PE (1ull << 0)
#define X86_CR0_NW (1ull << 29) /* not write-through */
#define X86_CR0_CD (1ull << 30) /* cache disable */
#define X86_EFER_SCE (1ull << 0)
#define X86_EFER_LME (1ull << 8)
#define X86_EFER_SVME (1ull << 12) /* SVM enable: VMRUN and friends #UD without it (§15.4) */
#define X86_EFER_LMSLE (1ull << 13)
#define X86_EFER_FFXSR (1ull << 14)
#define X86_EFER_TCE (1ull << 15)

/* Sizes of the permission maps (§15.10.1 "I/O Permissions Map", §15.11 "MSR Intercepts"). The
 * IOPM has a third page so that a multi-byte access at port 0xffff has bits to look up. */
#define SVM_IOPM_SIZE 0x3000u
#define SVM_MSRPM_SIZE 0x2000u

/* ---------------------------------------------------------------------------------------------
 * 1. Consistency checks of VMCB12.
 */

/* What the virtual CPU offers the nested hypervisor: the checks refuse what it lacks. */
struct svm_nested_caps {
	uint8_t maxphyaddr; /* physical-address width offered (CPUID 8000_0008h EAX[7:0]), 32..52 */
	bool np;            /* nested paging offered (CPUID 8000_000Ah EDX[0]) */
	uint64_t cr4_valid; /* CR4 bits that exist on the virtual CPU; any other is MBZ */
	uint64_t efer_valid;/* EFER bits that exist; any other is MBZ. A CPU without long mode
			     * leaves out LME and LMA, which makes §15.5.1's "EFER.LMA or EFER.LME
			     * is non-zero and this processor does not support long mode" an MBZ
			     * failure like the others */
};

/*
 * Why VMRUN refuses a VMCB12: one value per rule, so that the trace says which. The first group
 * is §15.5.1's list of illegal state combinations, in the manual's order; the second, checks the
 * manual states elsewhere that KVM makes too (nested_vmcb_check_controls).
 */
enum svm_nested_check {
	SVM_NESTED_VALID = 0,
	SVM_NESTED_EFER_SVME_CLEAR,       /* EFER.SVME is zero */
	SVM_NESTED_CR0_NW_WITHOUT_CD,     /* CR0.CD is zero and CR0.NW is set */
	SVM_NESTED_CR0_HIGH,              /* CR0[63:32] are not zero */
	SVM_NESTED_CR3_MBZ,               /* an MBZ bit of CR3 is set */
	SVM_NESTED_CR4_MBZ,               /* an MBZ bit of CR4 is set */
	SVM_NESTED_DR6_HIGH,              /* DR6[63:32] are not zero */
	SVM_NESTED_DR7_HIGH,              /* DR7[63:32] are not zero */
	SVM_NESTED_EFER_MBZ,              /* an MBZ bit of EFER is set */
	SVM_NESTED_LONG_WITHOUT_PAE,      /* EFER.LME and CR0.PG set, CR4.PAE clear */
	SVM_NESTED_LONG_WITHOUT_PE,       /* EFER.LME and CR0.PG set, CR0.PE clear */
	SVM_NESTED_LONG_CS_L_AND_D,       /* EFER.LME, CR0.PG, CR4.PAE, CS.L and CS.D all set */
	SVM_NESTED_NO_VMRUN_INTERCEPT,    /* the VMRUN intercept bit is clear */
	SVM_NESTED_MSRPM_BEYOND_MAXPHYADDR, /* the MSR permission map reaches past MAXPHYADDR */
	SVM_NESTED_IOPM_BEYOND_MAXPHYADDR,  /* the I/O permission map reaches past MAXPHYADDR */
	SVM_NESTED_EVENTINJ_TYPE,         /* EVENTINJ valid with a reserved TYPE (§15.20) */
	SVM_NESTED_EVENTINJ_NMI_EXCEPTION,/* EVENTINJ TYPE exception with vector 2 (§15.20) */
	SVM_NESTED_ASID_ZERO,             /* guest ASID 0 is the host's (§15.16) */
	SVM_NESTED_NP_UNSUPPORTED,        /* NP_ENABLE where nested paging is not offered */
	SVM_NESTED_NCR3_MBZ,              /* nCR3 has bits at or above MAXPHYADDR (§15.25.4) */
	SVM_NESTED_CHECK_COUNT
};

/*
 * Checks VMCB12 as VMRUN does before it loads anything. Returns SVM_NESTED_VALID (0) or the
 * first rule broken; *why (when why is not NULL) receives a constant human string for it.
 * A refused VMRUN is reported to the nested hypervisor as #VMEXIT with EXITCODE VMEXIT_INVALID
 * (SVM_EXIT_INVALID) and nothing of the guest state loaded.
 */
int svm_nested_check_vmcb(const struct vmcb *v, const struct svm_nested_caps *caps,
			  const char **why);
/* The two halves, as KVM splits them: the state-save area and the control area. */
int svm_nested_check_save(const struct vmcb_save_area *s, const struct svm_nested_caps *caps);
int svm_nested_check_controls(const struct vmcb_control *c, const struct svm_nested_caps *caps);
/* The string of a reason (NULL for a value outside the enum). */
const char *svm_nested_check_str(int reason);

/* ---------------------------------------------------------------------------------------------
 * 2. Merging VMCB12's controls with nbvmm's own.
 */

/* The six intercept vectors of the control area (Table B-1), in offset order. */
enum svm_intercept_word {
	SVM_INTERCEPT_WORD_CR,        /* 0x000 */
	SVM_INTERCEPT_WORD_DR,        /* 0x004 */
	SVM_INTERCEPT_WORD_EXCEPTION, /* 0x008 */
	SVM_INTERCEPT_WORD_MISC1,     /* 0x00c */
	SVM_INTERCEPT_WORD_MISC2,     /* 0x010 */
	SVM_INTERCEPT_WORD_MISC3,     /* 0x014 */
	SVM_INTERCEPT_WORDS
};

/* Who asked for each bit of one merged intercept word; the three masks are disjoint and their
 * union is the merged word. */
struct svm_intercept_origin {
	uint32_t own_only;    /* nbvmm needs it, the nested hypervisor does not */
	uint32_t nested_only; /* the nested hypervisor asked, nbvmm would not */
	uint32_t both;
};

struct svm_nested_origin {
	struct svm_intercept_origin word[SVM_INTERCEPT_WORDS];
};

/*
 * Builds the controls nbvmm runs the nested guest with (`out`, KVM's vmcb02) from its own needs
 * for that guest (`own`) and VMCB12's controls (`nested`). Field by field:
 *
 *   intercept vectors (all six)   own | nested. Either party's intercept must fire: nbvmm's to
 *                                 keep control of the machine, the nested hypervisor's because
 *                                 it is the architecture it was promised. `origin` (may be NULL)
 *                                 records who asked for each bit.
 *   pause_filter_thresh/count     nested's when nested intercepts PAUSE (its filter decides when
 *                                 its intercept fires, §15.14.4), own's otherwise.
 *   iopm_base_pa, msrpm_base_pa   own's. The merged VMCB is nbvmm's and its maps must be maps
 *                                 nbvmm owns; VMCB12's maps are consulted per exit by
 *                                 svm_nested_exit_wanted. So when the nested hypervisor alone
 *                                 asks for IOIO_PROT or MSR_PROT (origin says nested_only),
 *                                 own's map must intercept at least what VMCB12's does - the
 *                                 simplest being a map that intercepts everything.
 *   tsc_offset                    own + nested: the nested guest reads the TSC its hypervisor
 *                                 reads (host + own) plus that hypervisor's offset (TSC_OFFSET,
 *                                 Table B-1).
 *   asid                          own's. VMCB12's ASID names a tag in the nested hypervisor's
 *                                 ASID space, not the real one; nbvmm picks the tag the nested
 *                                 guest runs under (different from the one it runs the nested
 *                                 hypervisor with).
 *   tlb_ctl                       the stronger of own's and nested's (DO_NOTHING <
 *                                 FLUSH_ASID_LOCAL < FLUSH_ASID < FLUSH_ALL; a reserved value
 *                                 counts as FLUSH_ALL): a flush the nested hypervisor asked for
 *                                 must happen, and flushing more is always correct (§15.16).
 *   int_ctl                       V_TPR, V_IRQ, V_INTR_PRIO, V_IGN_TPR and V_INTR_MASKING from
 *                                 nested: they describe the nested guest's virtual interrupt and
 *                                 whether its RFLAGS.IF masks the nested hypervisor's physical
 *                                 interrupts (§15.21). Everything else (V_GIF, V_GIF_ENABLE,
 *                                 AVIC_ENABLE, reserved bits) from own: nbvmm does not offer
 *                                 those to the nested hypervisor.
 *   int_vector, int_state         nested's: the virtual interrupt's vector and the nested
 *                                 guest's interrupt shadow are guest state.
 *   event_inj, event_inj_err      nested's: the event the nested hypervisor injects on this
 *                                 VMRUN (§15.20). nbvmm's own injections (none while it enters
 *                                 a nested guest) would go into EXITINTINFO for the nested
 *                                 hypervisor instead.
 *   next_rip                      nested's. VMRUN itself ignores it; it is carried so that when
 *                                 a software interrupt injected from VMCB12 must be re-injected
 *                                 after an exit interrupted its delivery, nbvmm knows where the
 *                                 INTn ends (KVM's soft_int_next_rip).
 *   nested_ctl, nested_cr3        own's. VMCB12's nested paging is not given to the hardware: its
 *                                 nCR3 is a guest-physical table that nbvmm composes with its
 *                                 own map (svm_npt_translate), one shadow for both stages.
 *   avic_vapic_bar, ghcb_gpa,     own's (features not offered to the nested hypervisor).
 *   virt_ext
 *   clean                         0: every field of the merged VMCB counts as changed, since
 *                                 VMCB12's clean bits describe VMCB12, not the merged VMCB.
 *   exit_code, exit_info_1/2,     0: outputs of the next exit.
 *   exit_int_info(_err),
 *   insn_len, insn_bytes
 */
void svm_nested_merge_controls(const struct vmcb_control *own, const struct vmcb_control *nested,
			       struct vmcb_control *out, struct svm_nested_origin *origin);

/* Who asked for the intercept an exit code comes from, by the merge's origin record. NONE for
 * an exit with no intercept bit (NPF, VMEXIT_INVALID, nestbed's own codes) or none set. */
enum svm_origin {
	SVM_ORIGIN_NONE = 0,
	SVM_ORIGIN_OWN,
	SVM_ORIGIN_NESTED,
	SVM_ORIGIN_BOTH,
};
enum svm_origin svm_nested_exit_origin(const struct svm_nested_origin *origin, uint64_t exit_code);

/* ---------------------------------------------------------------------------------------------
 * 3. Routing an exit of the nested guest, and reflecting it.
 */

/*
 * Does VMCB12 (`nested`) intercept this exit of the nested guest, so that it must be reflected
 * to the nested hypervisor as #VMEXIT? `ecx` is ECX at the exit: for SVM_EXIT_MSR it is the MSR
 * (EXITINFO1 says only read 0 or write 1, §15.11), otherwise it is ignored. IOIO and MSR exits
 * read VMCB12's permission maps through ops->read_gpa; a map that cannot be read counts as
 * intercepting (the nested hypervisor asked for map-based interception and gets the exit).
 *
 * exit_code is the exit as the nested guest's instruction or event causes it architecturally -
 * what a CPU running VMCB12 would report - not nbvmm's own reason for trapping (a shadow-page
 * fill is never asked about). Where two intercepts can claim one event the caller picks the
 * code the manual gives priority: a MOV to CR0 is SVM_EXIT_CR0_WRITE when VMCB12 intercepts CR0
 * writes, and SVM_EXIT_CR0_SEL_WRITE only when it does not and the write changes more than TS
 * and MP (§15.9).
 *
 *   CR/DR reads and writes, exceptions, the vectors 3/4/5 intercepts: the intercept bit the exit
 *     code names (Table B-1 lays those vectors out in exit-code order);
 *   IOIO: IOIO_PROT and, in the IOPM, the bit of any port the access covers (§15.10.1);
 *   MSR: MSR_PROT and the MSR's read or write bit in the MSRPM; an MSR outside the map's three
 *     ranges always exits (§15.11);
 *   NPF: the nested hypervisor's whenever its NP_ENABLE is set - ask only after
 *     svm_npt_translate placed the fault in its tables, not in nbvmm's own map;
 *   VMEXIT_INVALID / VMEXIT_BUSY: always (a failed VMRUN is reported to whoever ran it);
 *   anything else (AVIC, VMGEXIT, nestbed's host codes): never - features the nested hypervisor
 *     was not given, so the exits are nbvmm's.
 */
bool svm_nested_exit_wanted(const struct vmcb_control *nested, uint64_t exit_code,
			    uint64_t exit_info_1, uint32_t ecx, const struct shadow_ops *ops,
			    void *opaque);

/*
 * Writes a #VMEXIT into VMCB12 as the processor does (§15.6 "#VMEXIT"): the exit code and
 * information; the guest state the processor saves, taken from `current_guest_state` (the
 * nested guest as it stands: its save area, and int_ctl / int_state of its control area):
 *   ES, CS, SS, DS (selector, attributes, limit, base), GDTR, IDTR, EFER, CR0, CR2, CR3, CR4,
 *   RFLAGS, RIP, RSP, RAX, DR6, DR7, CPL; V_TPR and V_IRQ of int_ctl (the rest of int_ctl is
 *   VMCB12's own); int_state (interrupt shadow, guest interrupt mask);
 * and clears EVENTINJ.V (the injected event was delivered or is now in EXITINTINFO, §15.20).
 * Nothing else changes: FS, GS, TR, LDTR, KernelGsBase, STAR, LSTAR, CSTAR, SFMASK and
 * SYSENTER_CS/ESP/EIP stay as they are - the processor leaves them in the CPU, for the nested
 * hypervisor's VMSAVE (§15.5.2). next_rip is written as given: the address after the
 * intercepted instruction where the exit has one, 0 otherwise (§15.7.1).
 */
void svm_nested_vmexit_fill(struct vmcb *nested, const struct vmcb *current_guest_state,
			    uint64_t exit_code, uint64_t info1, uint64_t info2,
			    uint32_t exit_int_info, uint32_t exit_int_info_err, uint64_t next_rip);

/* ---------------------------------------------------------------------------------------------
 * 4. VMLOAD and VMSAVE (§15.5.2): the state VMRUN and #VMEXIT leave alone. Exactly FS, GS, TR,
 * LDTR (selector, attributes, limit, base: the hidden state included), KernelGsBase, STAR, LSTAR,
 * CSTAR, SFMASK, SYSENTER_CS, SYSENTER_ESP, SYSENTER_EIP.
 */

/* VMLOAD: the CPU (`cpu`, the save area nbvmm keeps the nested hypervisor's state in) takes
 * those fields from the VMCB at rAX (`from`). */
void svm_vmload_fields(struct vmcb_save_area *cpu, const struct vmcb_save_area *from);
/* VMSAVE: the VMCB at rAX (`to`) receives them from the CPU. */
void svm_vmsave_fields(struct vmcb_save_area *to, const struct vmcb_save_area *cpu);

/* ---------------------------------------------------------------------------------------------
 * 5. Nested paging (§15.25).
 */

/* svm_npt_translate's result besides 0 and negative errors. */
enum svm_npt_result {
	SVM_NPT_FAULT = 1, /* #VMEXIT(NPF): EXITINFO1 in *npf_info1, EXITINFO2 = ngpa */
};

/*
 * Translates a guest-physical address `ngpa` of the nested guest through the nested
 * hypervisor's nested page tables (nCR3 `ncr3`, its EFER.NXE `nxe` and physical-address width
 * `maxphyaddr`): a 4-level walk. Nested tables take the format of the paging mode the nested
 * hypervisor itself runs in (§15.25); this walk implements the long-mode format (2 MiB and
 * 1 GiB pages included), the one a 64-bit nested hypervisor uses. Legacy-mode nested tables
 * (a 32-bit nested hypervisor) are not supported.
 *
 * `access` is the nested guest's access (PF_EC_W for a write, PF_EC_ID for a fetch; PF_EC_U is
 * ignored): every nested walk is a user access (§15.25.5), so a nested entry with U/S=0 refuses
 * it. `guest_table_access` says the access is the nested guest's own page-table walk reading an
 * entry at ngpa; the processor treats those as user writes (it may have to set the entry's
 * accessed and dirty bits), whatever the instruction does.
 *
 * Sets accessed and dirty bits in the nested tables as the MMU does (gpt_walk's GPT_SET_AD, so
 * ops->write_gpa is needed; w->ad_set says which). Returns:
 *   0              w->gpa is the host-guest-physical address (nbvmm's guest-physical);
 *   SVM_NPT_FAULT  a nested page fault: *npf_info1 = the #PF error-code bits (P, W, U, RSVD, ID)
 *                  | SVM_NPF_FINAL_GPA (bit 32) for the final translation or SVM_NPF_GUEST_TABLE
 *                  (bit 33) for a guest page-table access (§15.25.6); EXITINFO2 is ngpa;
 *   -SHADOW_EFAULT a nested table lies outside the nested hypervisor's memory;
 *   -SHADOW_EINVAL ngpa at or above 2^48, which 4-level tables cannot translate.
 * Either way w->entry_gpa[] names the nested-table entries the walk read (levels
 * w->leaf_level..4): nbvmm must write-protect those frames for as long as a shadow derived from
 * this translation lives.
 */
int svm_npt_translate(const struct shadow_ops *ops, void *opaque, uint64_t ncr3, bool nxe,
		      uint8_t maxphyaddr, uint64_t ngpa, unsigned access, bool guest_table_access,
		      struct gpt_walk *w, uint64_t *npf_info1);

#endif
