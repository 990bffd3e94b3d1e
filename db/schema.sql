-- nestbed trace store: schema version 1.
--
-- One SQLite file holds one or more runs of the testbed. The C store (tracer/store.c) runs this
-- file, embedded at build time, when it creates a database, and then fills the name tables
-- (exit_codes, event_kinds, trap_actions) from the C tables that are the one source of those
-- names. A database whose user_version differs from NB_STORE_SCHEMA_VERSION (tracer/store.h) is
-- refused rather than guessed at; change both together, with a migration, when the schema changes.
--
-- 64-bit values. Records carry unsigned 64-bit values (addresses, page-table entries, exit
-- information); SQLite integers are signed, so the store bit-casts them: 0xffffffffffffffff is
-- stored as -1 and 0x8000000000000000 as -9223372036854775808. Compare raw columns with the
-- same bit-cast, or read the views, which show every such value as a 0x%016x hex string.
-- Exit codes follow the same rule, which is why VMEXIT_INVALID is code -1 in exit_codes.
--
-- Timestamps. events.ts and console.ts are the recording level's TSC; runs.tsc_khz turns them
-- into time (ts / tsc_khz = milliseconds). runs.started_at and ended_at are ISO-8601 UTC text.

PRAGMA user_version = 1;

-- Which runs does this file hold, how did each end, and what machine were they taken on?
-- completed = 0 means the run did not end normally (crash, kill): its events are still valid up
-- to the last committed batch. records_lost totals the records_lost table for the run.
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
LEFT JOIN exit_codes x ON x.code = e.exit_code AND (k.has_exit_code OR e.rec_level = 0)
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
-- event (a host record of a stop with no exit, such as a timeout).
WHERE (e.kind IN (1, 2) OR e.rec_level = 0) AND e.kind > 0
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
CREATE VIEW v_run_summary AS
SELECT
	r.run_id,
	r.started_at,
	r.ended_at,
	r.command_line,
	r.completed,
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
