#include "tracer/names.h"

/* Designated initialisers plus the size check below: a kind added to the enum without a name
 * here fails the build (at the end) or the unit test (in the middle). */
const struct nb_event_kind_info nb_event_kinds[] = {
	[NB_EV_NONE] = { NULL, 0, NULL },
	[NB_EV_TRAP] = { "TRAP", 1, "a trap handled by the recording level" },
	[NB_EV_EXIT_REFLECTED] = { "EXIT_REFLECTED", 1, "an exit reflected to a nested hypervisor as #VMEXIT" },
	[NB_EV_VMRUN] = { "VMRUN", 0, "a (nested) VMRUN" },
	[NB_EV_PT_WRITE] = { "PT_WRITE", 0, "a guest page-table write: addr = entry gpa, aux = table level" },
	[NB_EV_SHADOW_FILL] = { "SHADOW_FILL", 0, "a shadow entry built: addr = guest virtual, new_val = shadow pte" },
	[NB_EV_SHADOW_ZAP] = { "SHADOW_ZAP", 0, "shadow entries dropped: aux = how many" },
	[NB_EV_CR3_SWITCH] = { "CR3_SWITCH", 0, "a guest CR3 switch: old_val -> new_val" },
	[NB_EV_INVLPG] = { "INVLPG", 0, "an INVLPG of addr" },
	[NB_EV_HYPERCALL] = { "HYPERCALL", 0, "a hypercall: exit_code = hypercall number" },
	[NB_EV_CONSOLE] = { "CONSOLE", 0, "console output (text in the console table)" },
	[NB_EV_VIOLATION] = { "VIOLATION", 1, "a sensitive instruction executed without trapping" },
	[NB_EV_GUEST] = { "GUEST", 0, "a record a guest kernel wrote for its own purposes" },
	[NB_EV_IO] = { "IO", 1, "port I/O: addr = port, aux = size | dir << 8" },
	[NB_EV_MMIO] = { "MMIO", 1, "MMIO: addr = gpa, aux = size | dir << 8" },
	[NB_EV_HLT] = { "HLT", 1, "the vCPU halted" },
	[NB_EV_SHUTDOWN] = { "SHUTDOWN", 1, "triple fault or shutdown" },
	[NB_EV_INTERRUPT] = { "INTERRUPT", 0, "an interrupt delivered to a guest: aux = vector" },
	[NB_EV_EXCEPTION] = { "EXCEPTION", 0, "an exception delivered to a guest: aux = vector, exit_info1 = error code" },
	[NB_EV_APIC] = { "APIC", 0, "a local APIC access: addr = register offset" },
	[NB_EV_EMULATION_ERROR] = { "EMULATION_ERROR", 1, "the recording level could not emulate an instruction" },
	[NB_EV_KVM_INJ_EXCEPTION] = { "KVM_INJ_EXCEPTION", 0, "KVM injected an exception into L1 (tracefs): aux = vector" },
	[NB_EV_KVM_PIO] = { "KVM_PIO", 0, "KVM saw L1's port I/O (tracefs): addr = port, aux = size | dir << 8" },
	[NB_EV_KVM_MMIO] = { "KVM_MMIO", 0, "KVM saw L1's MMIO (tracefs): addr = gpa, aux = size | dir << 8" },
	[NB_EV_KVM_EMULATED] = { "KVM_EMULATED", 0, "instructions of L1 KVM emulated in a row (tracefs): aux = how many" },
	[NB_EV_KVM_EXIT] = { "KVM_EXIT", 0, "a hardware exit of L1 into KVM (tracefs): exit_code = KVM's exit reason" },
	[NB_EV_GPT_WALK] = { "GPT_WALK", 0, "the guest walk of the next SHADOW_FILL: addr = gva, exit_code = CR3, "
					    "exit_info1/exit_info2/old_val/new_val = entries at levels 4/3/2/1" },
	[NB_EV_NPT_WRITE] = { "NPT_WRITE", 0, "a nested hypervisor's write to its nested page table: addr = entry gpa, "
					      "old_val/new_val, aux = the nested guest's level" },
};
_Static_assert(sizeof(nb_event_kinds) / sizeof(nb_event_kinds[0]) == NB_EV_KIND_COUNT,
	       "every enum nb_event_kind value has a name in nb_event_kinds");

const char *const nb_trap_action_names[] = {
	[NB_ACT_NONE] = "NONE",		  [NB_ACT_EMULATED] = "EMULATED",
	[NB_ACT_DELIVERED] = "DELIVERED", [NB_ACT_SHADOW_FILL] = "SHADOW_FILL",
	[NB_ACT_FORWARDED] = "FORWARDED", [NB_ACT_STOPPED] = "STOPPED",
};
_Static_assert(sizeof(nb_trap_action_names) / sizeof(nb_trap_action_names[0]) == NB_TRAP_ACTION_COUNT,
	       "every enum nb_trap_action value has a name");

const struct nb_svm_exit_info nb_svm_exits[] = {
#define SVM_EXIT(value, name, description) { (int64_t)(value), #name, description },
#include "shadow/svm_exit_codes.def"
#undef SVM_EXIT
};
const size_t nb_svm_exit_count = sizeof(nb_svm_exits) / sizeof(nb_svm_exits[0]);

const char *nb_event_kind_name(unsigned kind)
{
	return kind < NB_EV_KIND_COUNT ? nb_event_kinds[kind].name : NULL;
}

const char *nb_trap_action_name(unsigned action)
{
	return action < NB_TRAP_ACTION_COUNT ? nb_trap_action_names[action] : NULL;
}

const char *nb_svm_exit_name(uint64_t code)
{
	size_t i;

	for (i = 0; i < nb_svm_exit_count; i++)
		if ((uint64_t)nb_svm_exits[i].code == code)
			return nb_svm_exits[i].name;
	return NULL;
}
