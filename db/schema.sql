-- nestbed trace store: schema version 3 (version 2 added the Popek-Goldberg tables and views;
-- version 3 the level-0 KVM views and v_run_summary.outcome, and changed views over level 0).
--
-- One SQLite file holds one or more runs of the testbed. The C store (tracer/store.c) runs this
-- file, embedded at build time, when it creates a database, and then fills the name tables
-- (exit_codes, event_kinds, trap_actions) from the C tables that are the one source of those
-- names. Change user_version and NB_STORE_SCHEMA_VERSION (tracer/store.h) together whenever the
-- schema changes. The store migrates a file of an older version by making it match this file:
-- it creates the tables and indexes the file lacks, replaces every view, and replaces the rows of
-- the tables this file fills (the classification, pg_timing_probes). A change to the columns of
-- an existing table is beyond that: such files are refused until a migration is written for it.
-- A file of a newer version is refused rather than guessed at.
--
-- 64-bit values. Records carry unsigned 64-bit values (addresses, page-table entries, exit
-- information); SQLite integers are signed, so the store bit-casts them: 0xffffffffffffffff is
-- stored as -1 and 0x8000000000000000 as -9223372036854775808. Compare raw columns with the
-- same bit-cast, or read the views, which show every such value as a 0x%016x hex string.
-- Exit codes follow the same rule, which is why VMEXIT_INVALID is code -1 in exit_codes.
--
-- Timestamps. events.ts and console.ts are the recording level's TSC; runs.tsc_khz turns them
-- into time (ts / tsc_khz = milliseconds). runs.started_at and ended_at are ISO-8601 UTC text.

PRAGMA user_version = 3;

-- Which runs does this file hold, how did each end, and what machine were they taken on?
-- The row is written when the run starts (completed = 0, ended_at NULL) and updated when L0 ends
-- it. completed = 1: L0 ended the run and recorded it whole, whatever the guest did (stop_reason
-- and exit_status say what). completed = 0 with ended_at set: L0 ended the run early because it
-- could not record it (stop_reason 'store-failed': disk full, I/O error). ended_at NULL: no end
-- was recorded: L0 was killed (or is still running). Either way the events are valid up to the
-- last committed batch (L0 commits every 100 ms). records_lost totals the records_lost table for
-- the run, as it goes.
CREATE TABLE runs (
	run_id INTEGER PRIMARY KEY,
	started_at TEXT NOT NULL,
	ended_at TEXT,
	command_line TEXT,
	host_kernel TEXT,
	kvm_flavour TEXT,              -- 'pvm', 'intel', 'amd' or 'unknown'
	tsc_khz INTEGER,
	completed INTEGER NOT NULL DEFAULT 0 CHECK (completed IN (0, 1)),
	exit_status INTEGER,
	stop_reason TEXT,
	report TEXT,                   -- crash report: exit reason, RIP, instruction, registers
	records_lost INTEGER NOT NULL DEFAULT 0
);

-- Which virtual machines made up the run's tree: each VM's level, its parent, image and memory.
-- VM ids start at 1; parent_vm_id is NULL for a guest of the host (level 1).
CREATE TABLE vms (
	run_id INTEGER NOT NULL REFERENCES runs,
	vm_id INTEGER NOT NULL,
	level INTEGER NOT NULL,
	parent_vm_id INTEGER,
	image TEXT,
	memory_bytes INTEGER,
	args TEXT,
	PRIMARY KEY (run_id, vm_id)
);

-- What happened, in order: one row per trace record (trace_format.h says what each field means
-- for each kind). rec_level is the level that recorded the event, guest_level and vm_id the guest
-- it is about. insn_id names the instruction involved, if the record carried its bytes.
-- Foreign keys are documentation here: the store does not turn enforcement on, since checking
-- them would slow ingest and the store writes only ids it has just looked up.
CREATE TABLE events (
	event_id INTEGER PRIMARY KEY,
	run_id INTEGER NOT NULL REFERENCES runs,
	ts INTEGER NOT NULL,
	rec_level INTEGER NOT NULL,
	guest_level INTEGER NOT NULL,
	vm_id INTEGER NOT NULL,
	vcpu INTEGER NOT NULL,
	kind INTEGER NOT NULL REFERENCES event_kinds,
	action INTEGER NOT NULL REFERENCES trap_actions,
	exit_code INTEGER NOT NULL,    -- SVM exit code (see event_kinds.has_exit_code) or hypercall number
	exit_info1 INTEGER NOT NULL,
	exit_info2 INTEGER NOT NULL,
	rip INTEGER NOT NULL,
	addr INTEGER NOT NULL,
	old_val INTEGER NOT NULL,
	new_val INTEGER NOT NULL,
	aux INTEGER NOT NULL,
	insn_id INTEGER REFERENCES insns
);

-- What instruction was that? Each distinct byte string that appeared in a record, decoded once
-- by capstone in x86-64 mode at address 0 (relative branch targets read as offsets). length is
-- the decoded instruction's length, which can be less than length(bytes) when the recorder copied
-- a fixed window. mnemonic, op_str and text are '(bad)' for bytes that do not decode and NULL when
-- the run was stored without annotation. cs_id is capstone's x86_insn id; groups lists capstone's
-- group names ("privilege", "int", "jump"...), space-separated.
CREATE TABLE insns (
	insn_id INTEGER PRIMARY KEY,
	bytes BLOB NOT NULL UNIQUE,
	length INTEGER,
	mnemonic TEXT,
	op_str TEXT,
	text TEXT,
	cs_id INTEGER,
	groups TEXT
);

-- What does exit code 0x72 mean? Every code of shadow/svm_exit_codes.def (AMD APM vol. 2,
-- appendix C) plus nestbed's own host-level codes from 0x10000.
CREATE TABLE exit_codes (
	code INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	description TEXT
);

-- What does event kind 4 mean, and is its exit_code an SVM exit code (has_exit_code = 1) or
-- something else (a hypercall number, or unused)? Level 0 (the host) records every event at an
-- exit KVM handed it, so at level 0 exit_code always names that exit, whatever the kind.
-- Rows come from nb_event_kinds (tracer/names.c). Kinds 21-25 are KVM's own (level 0); 26,
-- GPT_WALK, is the guest walk behind the SHADOW_FILL that follows it, neither a trap nor an exit;
-- 27, NPT_WRITE, a nested hypervisor's write to its nested page table, seen by the level below it.
CREATE TABLE event_kinds (
	kind INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	has_exit_code INTEGER NOT NULL,
	description TEXT
);

-- What did the recording level do about a trap (emulated, delivered to the guest, forwarded...)?
CREATE TABLE trap_actions (
	action INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE
);

-- What did the guests print? One row per console line, with the level and VM that printed it.
CREATE TABLE console (
	console_id INTEGER PRIMARY KEY,
	run_id INTEGER NOT NULL REFERENCES runs,
	ts INTEGER NOT NULL,
	level INTEGER NOT NULL,
	vm_id INTEGER NOT NULL,
	line TEXT NOT NULL
);

-- How many records were lost, where, and why? reason says how: 'ring-full' (the producer found
-- its ring full), 'torn', 'invalid' or 'overrun' (records the reader of a ring rejected),
-- 'child-ring' (records a hypervisor level lost while draining its guest's ring), or another
-- reason the recorder names. Losing records is never silent: every lost record is counted here.
CREATE TABLE records_lost (
	run_id INTEGER NOT NULL REFERENCES runs,
	level INTEGER NOT NULL,
	vm_id INTEGER NOT NULL,
	reason TEXT NOT NULL,
	count INTEGER NOT NULL,
	PRIMARY KEY (run_id, level, vm_id, reason)
);

-- Indexes. Each index on events costs ingest speed: measured on a 2-core machine, 830,000
-- events/s with no index, 420,000 with one on (run_id, kind) for every row. So there is one,
-- partial index over the exits: trap rows (kinds 1 = TRAP and 2 = EXIT_REFLECTED, enum
-- nb_event_kind) at any level and every event of level 0, which the most frequent questions group
-- by level and exit code; it covers v_traps_by_level_reason. The other views scan events, which
-- takes well under a second per million events. Add an index to a finished trace file for a
-- question it answers often: CREATE INDEX is cheap afterwards.
CREATE INDEX events_traps ON events (run_id, rec_level, exit_code, kind) WHERE kind IN (1, 2) OR rec_level = 0;
CREATE INDEX console_by_run ON console (run_id, ts);

-- Every event with its names spelt out: kind, action and exit names, 64-bit values as hex, the
-- instruction's text. The view to read a trace in order, or to filter by name.
CREATE VIEW v_events AS
SELECT
	e.event_id,
	e.run_id,
	e.ts,
	e.rec_level,
	e.guest_level,
	e.vm_id,
	e.vcpu,
	k.name AS kind,
	a.name AS action,
	printf('0x%x', e.exit_code) AS exit_code,
	x.name AS exit_name,
	printf('0x%016x', e.exit_info1) AS exit_info1,
	printf('0x%016x', e.exit_info2) AS exit_info2,
	printf('0x%016x', e.rip) AS rip,
	printf('0x%016x', e.addr) AS addr,
	printf('0x%016x', e.old_val) AS old_val,
	printf('0x%016x', e.new_val) AS new_val,
	e.aux,
	i.text AS insn,
	hex(i.bytes) AS insn_bytes
FROM events e
LEFT JOIN event_kinds k ON k.kind = e.kind
LEFT JOIN trap_actions a ON a.action = e.action
LEFT JOIN exit_codes x ON x.code = e.exit_code AND (k.has_exit_code OR (e.rec_level = 0 AND e.kind < 21))
LEFT JOIN insns i ON i.insn_id = e.insn_id;

-- Which exits does each level take, how often, and how many of them did it handle itself versus
-- reflect to a nested hypervisor? One row per run, recording level and exit code. Level 0 counts
-- every exit the host handled (it records them under the kind of device that served them: IO,
-- MMIO, HYPERCALL...); deeper levels count their TRAP and EXIT_REFLECTED events.
CREATE VIEW v_traps_by_level_reason AS
SELECT
	e.run_id,
	e.rec_level AS level,
	printf('0x%x', e.exit_code) AS exit_code,
	x.name AS exit_name,
	count(*) AS count,
	sum(e.kind <> 2) AS handled,
	sum(e.kind = 2) AS reflected
FROM events e
LEFT JOIN exit_codes x ON x.code = e.exit_code
-- Kinds by number, as in the index's WHERE, so that events_traps serves this view. Kind 0 is no
-- event (a host record of a stop with no exit, such as a timeout); kinds 21 and up are KVM's own
-- events (tracefs, as root), which are not exits to L0.
WHERE (e.kind IN (1, 2) OR e.rec_level = 0) AND e.kind > 0 AND e.kind < 21
GROUP BY e.run_id, e.rec_level, e.exit_code;

-- Which guest page-table entries were written, from what to what, by which instruction? Each
-- write a guest made to a write-protected page-table page, as the level that emulated it saw it.
CREATE VIEW v_pt_writes AS
SELECT
	e.event_id,
	e.run_id,
	e.ts,
	e.rec_level,
	e.guest_level,
	e.vm_id,
	e.vcpu,
	printf('0x%016x', e.addr) AS entry_gpa,
	e.aux AS table_level,
	printf('0x%016x', e.old_val) AS old_val,
	printf('0x%016x', e.new_val) AS new_val,
	printf('0x%016x', e.rip) AS rip,
	i.text AS insn
FROM events e
JOIN event_kinds k ON k.kind = e.kind AND k.name = 'PT_WRITE'
LEFT JOIN insns i ON i.insn_id = e.insn_id;

-- Which guest-virtual pages needed shadow entries built, and how many times? A page filled
-- again and again is one whose shadow keeps being zapped.
CREATE VIEW v_shadow_fills_per_page AS
SELECT
	e.run_id,
	e.rec_level,
	e.guest_level,
	e.vm_id,
	printf('0x%016x', e.addr & ~4095) AS page,
	count(*) AS fills,
	min(e.ts) AS first_ts,
	max(e.ts) AS last_ts
FROM events e
JOIN event_kinds k ON k.kind = e.kind AND k.name = 'SHADOW_FILL'
GROUP BY e.run_id, e.rec_level, e.guest_level, e.vm_id, e.addr & ~4095;

-- What happened to each VM? Events per run, VM and kind, with the VM's level, parent and image
-- (NULL when the VM was never registered in vms).
CREATE VIEW v_vm_events AS
SELECT
	e.run_id,
	e.vm_id,
	v.level,
	v.parent_vm_id,
	v.image,
	k.name AS kind,
	count(*) AS events
FROM events e
LEFT JOIN vms v ON v.run_id = e.run_id AND v.vm_id = e.vm_id
LEFT JOIN event_kinds k ON k.kind = e.kind
GROUP BY e.run_id, e.vm_id, e.kind;

-- How did each run go, in one row? Completion, events per recording level ('L0=12 L1=3400'),
-- the deepest guest level seen, records lost (total and by reason), console lines and VMs.
-- outcome: 'completed'; 'incomplete' (L0 ended the run but could not record all of it:
-- stop_reason says why); 'unfinished' (no end recorded: L0 was killed, or is still running).
CREATE VIEW v_run_summary AS
SELECT
	r.run_id,
	r.started_at,
	r.ended_at,
	r.command_line,
	r.completed,
	CASE WHEN r.completed THEN 'completed' WHEN r.ended_at IS NULL THEN 'unfinished' ELSE 'incomplete' END
		AS outcome,
	r.exit_status,
	r.stop_reason,
	(SELECT count(*) FROM events e WHERE e.run_id = r.run_id) AS events,
	(SELECT group_concat('L' || rec_level || '=' || n, ' ')
	 FROM (SELECT e.rec_level, count(*) AS n FROM events e WHERE e.run_id = r.run_id
	       GROUP BY e.rec_level ORDER BY e.rec_level)) AS events_by_level,
	(SELECT max(e.guest_level) FROM events e WHERE e.run_id = r.run_id) AS deepest_level,
	r.records_lost,
	(SELECT group_concat('L' || level || ' vm' || vm_id || ' ' || reason || '=' || count, ', ')
	 FROM (SELECT * FROM records_lost l WHERE l.run_id = r.run_id
	       ORDER BY l.level, l.vm_id, l.reason)) AS lost_by_reason,
	(SELECT count(*) FROM console c WHERE c.run_id = r.run_id) AS console_lines,
	(SELECT count(*) FROM vms v WHERE v.run_id = r.run_id) AS vms
FROM runs r;

-- Which interrupts did each guest receive, from which level, how often? Virtual interrupts a
-- hypervisor delivered through its guest's IDT (kind INTERRUPT; aux = vector).
CREATE VIEW v_interrupts AS
SELECT
	e.run_id,
	e.rec_level,
	e.guest_level,
	e.vm_id,
	e.aux AS vector,
	count(*) AS deliveries,
	min(e.ts) AS first_ts,
	max(e.ts) AS last_ts
FROM events e
JOIN event_kinds k ON k.kind = e.kind AND k.name = 'INTERRUPT'
GROUP BY e.run_id, e.rec_level, e.guest_level, e.vm_id, e.aux;

-- How does each guest drive its local APIC? Accesses to the virtual APIC page by register
-- (kind APIC; addr = register offset, aux = size | 0x100 for a write, old_val read, new_val written).
CREATE VIEW v_apic_accesses AS
SELECT
	e.run_id,
	e.rec_level,
	e.guest_level,
	e.vm_id,
	printf('0x%03x', e.addr) AS offset,
	CASE e.addr
		WHEN 0x20 THEN 'ID' WHEN 0x30 THEN 'VERSION' WHEN 0x80 THEN 'TPR' WHEN 0xa0 THEN 'PPR'
		WHEN 0xb0 THEN 'EOI' WHEN 0xf0 THEN 'SVR' WHEN 0x300 THEN 'ICR_LO' WHEN 0x310 THEN 'ICR_HI'
		WHEN 0x320 THEN 'LVT_TIMER' WHEN 0x380 THEN 'TIMER_INITIAL' WHEN 0x390 THEN 'TIMER_CURRENT'
		WHEN 0x3e0 THEN 'TIMER_DIVIDE'
		ELSE CASE WHEN e.addr BETWEEN 0x100 AND 0x170 THEN 'ISR' WHEN e.addr BETWEEN 0x200 AND 0x270 THEN 'IRR'
			  ELSE NULL END
	END AS register,
	CASE WHEN e.aux & 256 THEN 'write' ELSE 'read' END AS access,
	count(*) AS accesses
FROM events e
JOIN event_kinds k ON k.kind = e.kind AND k.name = 'APIC'
GROUP BY e.run_id, e.rec_level, e.guest_level, e.vm_id, e.addr, e.aux & 256;

-- Exit multiplication by depth: how many exits of the level below does one trap of a level cost,
-- by the trap's reason? A trap of level L >= 1 (TRAP or EXIT_REFLECTED, recorded by L about its
-- guest at guest_level) is charged with every exit level L - 1 took from the trap's record up to
-- L's next trap: nbvmm records a trap before it handles it, so the exits its handling causes (port
-- I/O forwarded, hypercalls, trace drains) follow the record. Exits of level 0 are its events of
-- any kind, deeper levels' exits their traps, as in v_traps_by_level_reason. Every level records
-- on one TSC (level 0 adds KVM's TSC offset to its own), which is what lets the levels line up;
-- exits of level L - 1 before L's first trap (L booting) are charged to no trap.
-- One row per run, trapping level, guest level and exit code: traps, exits_below (of level L - 1
-- while they were handled) and exits_per_trap. At depth 1 there are no rows: no level traps.
CREATE VIEW v_exit_multiplication AS
WITH marks AS (
	SELECT run_id, rec_level AS level, 1 AS is_trap, ts, event_id, guest_level, exit_code
	FROM events WHERE rec_level >= 1 AND kind IN (1, 2)
	UNION ALL
	SELECT run_id, rec_level + 1, 0, ts, event_id, guest_level, exit_code
	FROM events WHERE (kind IN (1, 2) OR rec_level = 0) AND kind > 0 AND kind < 21
),
numbered AS (
	SELECT *, sum(is_trap) OVER (PARTITION BY run_id, level ORDER BY ts, is_trap DESC, event_id
				     ROWS UNBOUNDED PRECEDING) AS trap_no
	FROM marks
),
below AS (
	SELECT run_id, level, trap_no, count(*) AS n FROM numbered
	WHERE is_trap = 0 AND trap_no > 0 GROUP BY run_id, level, trap_no
)
SELECT
	t.run_id,
	t.level,
	t.guest_level,
	printf('0x%x', t.exit_code) AS exit_code,
	x.name AS exit_name,
	count(*) AS traps,
	coalesce(sum(b.n), 0) AS exits_below,
	round(coalesce(sum(b.n), 0) * 1.0 / count(*), 3) AS exits_per_trap
FROM numbered t
LEFT JOIN below b ON b.run_id = t.run_id AND b.level = t.level AND b.trap_no = t.trap_no
LEFT JOIN exit_codes x ON x.code = t.exit_code
WHERE t.is_trap = 1
GROUP BY t.run_id, t.level, t.guest_level, t.exit_code;

-- How many instructions does L1 run per trap? On hosts where KVM emulates the guest's ring-0
-- code (PVM: see /work/shared/PLATFORM.md), L0 running as root records KVM's kvm_emulate_insn
-- events as KVM_EMULATED rows (kind 24, level 0: aux = instructions emulated in a row, cut at
-- every L1 trap record). Each trap of L1 (TRAP or EXIT_REFLECTED, rec_level 1) is charged with the
-- instructions emulated from its record to L1's next trap record: the rest of its handling and
-- the entry path of the next trap up to where nbvmm records it. l1_insns is NULL for runs that
-- recorded no KVM events (not root, or a host that runs ring 0 natively). One row per L1 trap.
CREATE VIEW v_l1_insns_per_trap AS
WITH marks AS (
	SELECT run_id, ts, event_id, 1 AS is_trap, 0 AS n FROM events
	WHERE rec_level = 1 AND kind IN (1, 2)
	UNION ALL
	SELECT run_id, ts, event_id, 0, aux FROM events WHERE rec_level = 0 AND kind = 24
),
numbered AS (
	SELECT *, sum(is_trap) OVER (PARTITION BY run_id ORDER BY ts, is_trap DESC, event_id
				     ROWS UNBOUNDED PRECEDING) AS trap_no
	FROM marks
),
charged AS (
	SELECT run_id, trap_no, sum(n) AS insns FROM numbered
	WHERE is_trap = 0 AND trap_no > 0 GROUP BY run_id, trap_no
),
traced AS (SELECT DISTINCT run_id FROM events WHERE rec_level = 0 AND kind = 24)
SELECT
	e.run_id,
	e.event_id,
	e.ts,
	e.guest_level,
	e.vm_id,
	k.name AS kind,
	a.name AS action,
	printf('0x%x', e.exit_code) AS exit_code,
	x.name AS exit_name,
	CASE WHEN t.run_id IS NULL THEN NULL ELSE coalesce(c.insns, 0) END AS l1_insns
FROM numbered nb
JOIN events e ON e.event_id = nb.event_id
LEFT JOIN charged c ON c.run_id = nb.run_id AND c.trap_no = nb.trap_no
LEFT JOIN traced t ON t.run_id = nb.run_id
LEFT JOIN event_kinds k ON k.kind = e.kind
LEFT JOIN trap_actions a ON a.action = e.action
LEFT JOIN exit_codes x ON x.code = e.exit_code
WHERE nb.is_trap = 1;

-- Which traps cost L1 the most instructions? v_l1_insns_per_trap summed by exit reason and
-- action: traps, total, average and largest instruction counts.
CREATE VIEW v_l1_insns_by_reason AS
SELECT
	run_id,
	guest_level,
	exit_code,
	exit_name,
	action,
	count(*) AS traps,
	sum(l1_insns) AS l1_insns,
	round(avg(l1_insns), 1) AS avg_insns,
	max(l1_insns) AS max_insns
FROM v_l1_insns_per_trap
WHERE l1_insns IS NOT NULL
GROUP BY run_id, guest_level, exit_code, action;

-- What did KVM itself do to L1? Level-0 KVM events (tracefs, recorded as root) per run and kind:
-- injected exceptions by vector, port and MMIO accesses, runs of emulated instructions (with the
-- instructions they hold) and, on VMX/SVM hosts, hardware exits by KVM's exit reason.
CREATE VIEW v_kvm_events AS
SELECT
	e.run_id,
	k.name AS kind,
	CASE e.kind WHEN 21 THEN e.aux WHEN 25 THEN e.exit_code ELSE NULL END AS vector_or_reason,
	count(*) AS events,
	CASE e.kind WHEN 24 THEN sum(e.aux) ELSE NULL END AS instructions
FROM events e
JOIN event_kinds k ON k.kind = e.kind
WHERE e.rec_level = 0 AND e.kind BETWEEN 21 AND 25 -- NB_EV_KVM_FIRST..NB_EV_KVM_LAST
GROUP BY e.run_id, e.kind, vector_or_reason;

-- ---------------------------------------------------------------------------------------------
-- When does (recursive) virtualizability hold? Popek and Goldberg's theorems (CACM 17(7), 1974)
-- answered from the classification of x86 instructions and from the probes' observations.
-- The classification tables are filled from the C table in shadow/sensitivity.c (the one source:
-- db/gen_sensitivity_sql prints its rows after this schema); the probes (guests/probes) write
-- their observations as GUEST events that v_pg_observations decodes; pg_runs says how the
-- hypervisor ran each probe run (plain, audit, faithful).

-- Which feature sets can a host give ring-3 code? Bit mask: 1 = CR4.UMIP, 2 = CPUID faulting
-- (MSR 0x140 bit 0), 4 = CR4.TSD. name is 'none', 'umip', 'umip+cpuidf+tsd'...
CREATE TABLE host_features (
	features INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	umip INTEGER NOT NULL,
	cpuid_faulting INTEGER NOT NULL,
	tsd INTEGER NOT NULL
);

-- Which instructions matter to a trap-and-emulate hypervisor, and why? One row per instruction
-- of shadow/sensitivity.h (sens_id is its stable enum nb_sens_id). pg_class is the strongest of
-- its properties: 'privileged' (traps at CPL 3, runs at CPL 0), 'control-sensitive',
-- 'behaviour-sensitive' or 'innocuous'; the flags say each property (a privileged instruction is
-- also control- or behaviour-sensitive). user_sensitive: sensitive in some user-mode state
-- (Theorem 3). timing: reads time (Popek-Goldberg's equivalence excepts timing: Theorems 1 and 3
-- leave these out, Theorem 2 adds them). svm_intercept: what catches it in SVM guest mode.
-- decoder_mnemonic: shadow/insn_decode.h's name for it, NULL when the decoder has none.
CREATE TABLE insn_classes (
	sens_id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	decoder_mnemonic TEXT,
	pg_class TEXT NOT NULL CHECK (pg_class IN ('privileged', 'control-sensitive', 'behaviour-sensitive', 'innocuous')),
	privileged INTEGER NOT NULL,
	control_sensitive INTEGER NOT NULL,
	behaviour_sensitive INTEGER NOT NULL,
	user_sensitive INTEGER NOT NULL,
	timing INTEGER NOT NULL,
	svm INTEGER NOT NULL,
	svm_intercept TEXT,
	why TEXT NOT NULL,
	measured_note TEXT
);

-- Which classified instruction is capstone instruction cs_id (insns.cs_id)? op_glob, when not
-- NULL, is a GLOB on insns.op_str that tells apart the instructions capstone gives one id
-- (MOV: to/from CR, DR, a segment register, or plain); the most specific (longest) glob wins.
CREATE TABLE insn_capstone (
	cs_id INTEGER NOT NULL,
	sens_id INTEGER NOT NULL REFERENCES insn_classes,
	op_glob TEXT,
	PRIMARY KEY (cs_id, sens_id)
);

-- Does the instruction trap at CPL 3 under each feature set: by the architecture (traps_arch)
-- and as measured on this project's machines (traps_measured; ../shared/PLATFORM.md: CPUID
-- faulting and CR4.TSD have no effect on ring-3 code under KVM's PVM)?
CREATE TABLE insn_traps (
	sens_id INTEGER NOT NULL REFERENCES insn_classes,
	features INTEGER NOT NULL REFERENCES host_features,
	traps_arch INTEGER NOT NULL,
	traps_measured INTEGER NOT NULL,
	PRIMARY KEY (sens_id, features)
);

-- How did the hypervisor run each probe run: 'plain' trap-and-emulate, 'audit' (single-steps
-- the guest's kernel and records VIOLATION events) or 'faithful' (emulates the sensitive
-- instructions)? Written by whoever starts the run (nestbed::probes); a run without a row is plain.
CREATE TABLE pg_runs (
	run_id INTEGER PRIMARY KEY REFERENCES runs,
	mode TEXT NOT NULL DEFAULT 'plain' CHECK (mode IN ('plain', 'audit', 'faithful')),
	label TEXT
);

-- What the probes' timing records measure (probe number of a timing record).
CREATE TABLE pg_timing_probes (
	probe INTEGER PRIMARY KEY,
	what TEXT NOT NULL
);
INSERT INTO pg_timing_probes (probe, what) VALUES
	(0, 'user mode: 256 innocuous instructions (baseline)'),
	(1, 'kernel mode: IN from a UART register (a port exit)'),
	(2, 'kernel mode: CPUID'),
	(3, 'user mode: UD2 to the kernel and back (a trap round trip)');

-- The probes' records are GUEST events (kind 12): a partial index finds them without scanning a
-- run's other events, at the cost of one test per ingested row.
CREATE INDEX events_guest ON events (run_id) WHERE kind = 12;

-- Which instructions trap at CPL 3 under each feature set, in theory and as measured? One row
-- per classified instruction and feature set, with the class.
CREATE VIEW v_pg_insn_traps AS
SELECT c.sens_id, c.name AS insn, c.pg_class, c.user_sensitive, c.timing, f.features, f.name AS feature_set,
	x.traps_arch, x.traps_measured
FROM insn_classes c
JOIN insn_traps x ON x.sens_id = c.sens_id
JOIN host_features f ON f.features = x.features;

-- Do the theorems hold for a feature set, from the classification alone? basis 'architecture'
-- takes the manuals' trap conditions, 'measured' this project's machines. Theorem 1 needs every
-- sensitive instruction but the timing ones to trap, Theorem 3 every user-sensitive one but the
-- timing ones, Theorem 2 every sensitive one, timing included (a VMM without timing
-- dependencies must be able to give its guests virtual time). failing lists those that do not trap.
CREATE VIEW v_pg_theory AS
WITH theorems(theorem) AS (VALUES (1), (2), (3)),
bases(basis) AS (VALUES ('architecture'), ('measured')),
needed AS (
	SELECT t.theorem, c.sens_id, c.name
	FROM theorems t JOIN insn_classes c
	WHERE (c.control_sensitive OR c.behaviour_sensitive)
	  AND (t.theorem = 2 OR NOT c.timing)
	  AND (t.theorem <> 3 OR c.user_sensitive))
SELECT f.features, f.name AS feature_set, CAST(n.theorem AS INTEGER) AS theorem, b.basis,
	sum(CASE b.basis WHEN 'architecture' THEN x.traps_arch ELSE x.traps_measured END = 0) = 0 AS holds,
	count(*) AS needed,
	group_concat(CASE WHEN CASE b.basis WHEN 'architecture' THEN x.traps_arch ELSE x.traps_measured END = 0
		THEN n.name END, ', ') AS failing
FROM host_features f
CROSS JOIN bases b
CROSS JOIN needed n
JOIN insn_traps x ON x.sens_id = n.sens_id AND x.features = f.features
GROUP BY f.features, n.theorem, b.basis;

-- What did the probes observe? One row per observation record (guests/probes; record layout in
-- shadow/sensitivity.h, NB_PROBE_AUX): the run, its mode, the depth the probe ran at, the
-- feature set it asked for, the CPU mode (kernel or user) and instruction, the exception the
-- guest received (vector, NULL for none), the values it read, what the architecture says it
-- should have got (expected*, NULL where the probe cannot know), and as_architecture: 1 when
-- the exception and the known values are as the architecture says (NULL for timing records and
-- instructions the CPU does not offer). sens_id 0 is the set-up record: value = the features in
-- effect, value2 = the features offered.
CREATE VIEW v_pg_observations AS
SELECT o.*,
	CASE WHEN o.timing OR o.unsupported THEN NULL
	     WHEN o.vector IS NOT o.expected_vector THEN 0
	     WHEN o.vector IS NOT NULL THEN 1
	     ELSE (o.expected IS NULL OR o.value = o.expected) AND (o.expected2 IS NULL OR o.value2 = o.expected2)
	END AS as_architecture
FROM (
	SELECT e.event_id, e.run_id, coalesce(m.mode, 'plain') AS mode, e.guest_level AS depth,
		CAST((e.aux >> 32) & 255 AS INTEGER) AS features, f.name AS feature_set,
		CASE (e.aux >> 24) & 255 WHEN 0 THEN 'kernel' ELSE 'user' END AS cpu_mode,
		CAST(e.aux & 65535 AS INTEGER) AS sens_id, c.name AS insn, CAST((e.aux >> 16) & 255 AS INTEGER) AS probe,
		CAST(CASE WHEN e.exit_info1 <> 0 THEN e.exit_info1 - 1 END AS INTEGER) AS vector,
		e.old_val AS value, e.addr AS value2,
		CASE WHEN e.exit_info2 & 1 THEN e.new_val END AS expected,
		CASE WHEN e.exit_info2 & 2 THEN e.exit_code END AS expected2,
		CASE WHEN (e.exit_info2 >> 8) & 255 <> 0 THEN ((e.exit_info2 >> 8) & 255) - 1 END AS expected_vector,
		(e.exit_info2 & 4) <> 0 AS timing,
		(e.exit_info2 & 8) <> 0 AS unsupported,
		e.rip, e.insn_id
	FROM events e
	LEFT JOIN pg_runs m ON m.run_id = e.run_id
	LEFT JOIN host_features f ON f.features = (e.aux >> 32) & 255
	LEFT JOIN insn_classes c ON c.sens_id = e.aux & 65535
	-- kind 12 = GUEST by number, as events_guest's WHERE; 20551 = 0x5047, NB_PROBE_TAG
	WHERE e.kind = 12 AND (e.aux >> 48) = 20551
) o;

-- Which runs ran the probes, at what depth, in which mode, asking for which features and getting
-- which (effective: the bits the probe could turn on; offered: the bits the CPU offers)?
CREATE VIEW v_pg_probe_runs AS
SELECT run_id, mode, depth, features, feature_set, value AS effective, value2 AS offered
FROM v_pg_observations WHERE sens_id = 0 AND probe = 0;

-- Which depth-1 run is the reference for a feature set: the latest plain one in the file.
CREATE VIEW v_pg_reference_runs AS
SELECT features, max(run_id) AS run_id FROM v_pg_probe_runs WHERE depth = 1 AND mode = 'plain'
GROUP BY features;

-- Did each observation at depth N equal the one at depth 1 (same feature set, CPU mode,
-- instruction and probe, in the reference run)? as_depth1 is 1 or 0, NULL for timing records,
-- unsupported instructions and observations with no reference. faithful is the verdict used by
-- the theorems: as_architecture at depth 1 (there is no shallower machine to compare with) and
-- where depth 1 could not run the probe (ring-0 LAR under PVM), as_depth1 elsewhere.
CREATE VIEW v_pg_equivalence AS
SELECT o.*, r.run_id AS ref_run_id, r.vector AS ref_vector, r.value AS ref_value, r.value2 AS ref_value2,
	CASE WHEN r.event_id IS NULL OR o.timing OR o.unsupported OR r.unsupported THEN NULL
	     WHEN o.vector IS NOT r.vector THEN 0
	     WHEN o.vector IS NOT NULL THEN 1
	     ELSE o.value = r.value AND o.value2 = r.value2
	END AS as_depth1,
	CASE WHEN o.depth = 1 OR r.unsupported THEN o.as_architecture
	     WHEN r.event_id IS NULL OR o.timing OR o.unsupported THEN NULL
	     WHEN o.vector IS NOT r.vector THEN 0
	     WHEN o.vector IS NOT NULL THEN 1
	     ELSE o.value = r.value AND o.value2 = r.value2
	END AS faithful
FROM v_pg_observations o
LEFT JOIN v_pg_reference_runs rr ON rr.features = o.features
LEFT JOIN v_pg_observations r ON r.run_id = rr.run_id AND r.sens_id = o.sens_id AND r.cpu_mode = o.cpu_mode
	AND r.probe = o.probe
WHERE o.sens_id <> 0;

-- How much slower is time at depth N? The timing records (cycles, the minimum of several
-- tries) against the depth-1 reference run's: dilation = cycles / reference cycles.
CREATE VIEW v_pg_timing AS
SELECT o.run_id, o.mode, o.depth, o.features, o.feature_set, o.probe, t.what, o.value AS cycles,
	r.value AS ref_cycles, CASE WHEN r.value > 0 THEN round(o.value * 1.0 / r.value, 2) END AS dilation
FROM v_pg_observations o
LEFT JOIN pg_timing_probes t ON t.probe = o.probe
LEFT JOIN v_pg_reference_runs rr ON rr.features = o.features
LEFT JOIN v_pg_observations r ON r.run_id = rr.run_id AND r.timing AND r.probe = o.probe
WHERE o.timing;

-- Which sensitive instructions did a hypervisor in audit mode see execute without trapping
-- (VIOLATION events, kind 11)? The instruction is aux when aux is a sens_id, else found from
-- capstone's id and operands (insn_capstone). old_val = what the guest saw, new_val = what the
-- virtual CPU should have shown.
CREATE VIEW v_pg_violations AS
SELECT e.event_id, e.run_id, coalesce(m.mode, 'plain') AS mode, e.rec_level, e.guest_level AS depth, e.vm_id,
	coalesce(a.sens_id, (SELECT k.sens_id FROM insn_capstone k WHERE k.cs_id = i.cs_id
		AND (k.op_glob IS NULL OR i.op_str GLOB k.op_glob) ORDER BY length(k.op_glob) DESC LIMIT 1)) AS sens_id,
	printf('0x%016x', e.rip) AS rip, i.text AS disassembly, hex(i.bytes) AS bytes,
	printf('0x%x', e.old_val) AS observed, printf('0x%x', e.new_val) AS expected
FROM events e
LEFT JOIN pg_runs m ON m.run_id = e.run_id
LEFT JOIN insns i ON i.insn_id = e.insn_id
LEFT JOIN insn_classes a ON a.sens_id = e.aux AND e.aux > 0
WHERE e.kind = 11; -- VIOLATION, by number as v_pg_observations names GUEST

-- Why does a theorem not hold in practice for a probe run? One row per piece of evidence:
-- 'observation' (a sensitive instruction's observation unlike depth 1's, or at depth 1 unlike
-- the architecture's), 'violation' (an audit-mode VIOLATION event), 'time' (Theorem 2: a
-- time-reading instruction ran at CPL 3 without trapping, so no VMM can give the guest virtual
-- time; or a trapping operation took more than twice as long as at depth 1). Observations of
-- timing instructions count for Theorem 2 only, kernel-mode ones not for Theorem 3 (a hybrid VMM
-- interprets the guest's supervisor mode).
CREATE VIEW v_pg_evidence AS
WITH theorems(theorem) AS (VALUES (1), (2), (3))
SELECT p.run_id, p.mode, p.depth, p.features, p.feature_set, CAST(t.theorem AS INTEGER) AS theorem, 'observation' AS kind,
	q.insn, q.cpu_mode, q.probe, c.pg_class, printf('0x%016x', q.rip) AS rip, i.text AS disassembly,
	CASE WHEN q.vector IS NOT NULL THEN 'exception ' || q.vector ELSE printf('0x%x 0x%x', q.value, q.value2) END AS observed,
	CASE WHEN q.depth = 1 OR q.as_depth1 IS NULL THEN
		CASE WHEN q.expected_vector IS NOT NULL THEN 'exception ' || q.expected_vector
		     ELSE printf('%s %s', coalesce(printf('0x%x', q.expected), '?'), coalesce(printf('0x%x', q.expected2), '?')) END
	     WHEN q.ref_vector IS NOT NULL THEN 'exception ' || q.ref_vector
	     ELSE printf('0x%x 0x%x', q.ref_value, q.ref_value2) END AS expected,
	CASE WHEN q.depth = 1 OR q.as_depth1 IS NULL THEN 'the architecture' ELSE 'depth 1 (run ' || q.ref_run_id || ')' END AS compared_with
FROM v_pg_probe_runs p
CROSS JOIN theorems t
JOIN v_pg_equivalence q ON q.run_id = p.run_id AND q.faithful = 0
JOIN insn_classes c ON c.sens_id = q.sens_id AND (c.control_sensitive OR c.behaviour_sensitive)
LEFT JOIN insns i ON i.insn_id = q.insn_id
WHERE (t.theorem = 2 OR NOT c.timing) AND (t.theorem <> 3 OR (c.user_sensitive AND q.cpu_mode = 'user'))
UNION ALL
SELECT p.run_id, p.mode, p.depth, p.features, p.feature_set, t.theorem, 'violation', c.name, 'kernel', NULL,
	c.pg_class, v.rip, v.disassembly, v.observed, v.expected, 'the virtual CPU'
FROM v_pg_probe_runs p
CROSS JOIN theorems t
JOIN v_pg_violations v ON v.run_id = p.run_id AND v.depth = p.depth
LEFT JOIN insn_classes c ON c.sens_id = v.sens_id
WHERE t.theorem <> 3 AND (t.theorem = 2 OR NOT coalesce(c.timing, 0))
UNION ALL
SELECT p.run_id, p.mode, p.depth, p.features, p.feature_set, 2, 'time', q.insn, q.cpu_mode, q.probe, c.pg_class,
	printf('0x%016x', q.rip), i.text, 'ran without trapping', 'a trap the VMM can emulate', 'time virtualization'
FROM v_pg_probe_runs p
JOIN v_pg_observations q ON q.run_id = p.run_id AND q.cpu_mode = 'user' AND q.vector IS NULL AND NOT q.unsupported
	AND NOT q.timing
JOIN insn_classes c ON c.sens_id = q.sens_id AND c.timing
LEFT JOIN insns i ON i.insn_id = q.insn_id
UNION ALL
SELECT p.run_id, p.mode, p.depth, p.features, p.feature_set, 2, 'time', NULL, NULL, d.probe, NULL, NULL, d.what,
	d.cycles || ' cycles (x' || d.dilation || ')', d.ref_cycles || ' cycles', 'depth 1 (run ' || rr.run_id || ')'
FROM v_pg_probe_runs p
JOIN v_pg_timing d ON d.run_id = p.run_id AND d.depth > 1 AND d.dilation > 2
LEFT JOIN v_pg_reference_runs rr ON rr.features = p.features;

-- Do Theorems 1, 2 and 3 hold for each probe run? holds_in_theory from the architecture's trap
-- conditions, holds_on_host from this host's measured ones (v_pg_theory), holds_in_practice when
-- the run left no evidence against it (v_pg_evidence; evidence counts the rows).
CREATE VIEW v_pg_verdicts AS
WITH theorems(theorem) AS (VALUES (1), (2), (3))
SELECT p.run_id, p.mode, p.depth, p.features, p.feature_set, CAST(t.theorem AS INTEGER) AS theorem,
	(SELECT holds FROM v_pg_theory h WHERE h.features = p.features AND h.theorem = t.theorem
		AND h.basis = 'architecture') AS holds_in_theory,
	(SELECT holds FROM v_pg_theory h WHERE h.features = p.features AND h.theorem = t.theorem
		AND h.basis = 'measured') AS holds_on_host,
	(SELECT count(*) FROM v_pg_evidence v WHERE v.run_id = p.run_id AND v.theorem = t.theorem) AS evidence,
	NOT EXISTS (SELECT 1 FROM v_pg_evidence v WHERE v.run_id = p.run_id AND v.theorem = t.theorem) AS holds_in_practice
FROM v_pg_probe_runs p
CROSS JOIN theorems t;
