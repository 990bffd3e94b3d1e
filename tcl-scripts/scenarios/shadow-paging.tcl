# Question: what does shadow paging cost this guest? Runs the guest at depth 2, under nbvmm,
# which keeps shadow page tables for it, and reports from the trace what level 1 did for it:
# its traps by exit reason and what became of them, which page faults were hidden ones (the
# guest never sees them: nbvmm filled a shadow entry), the shadow fills per guest page, the guest
# page-table writes nbvmm had to emulate (by table level), the CR3 switches and how many found
# their shadow roots cached, and the shadow entries it dropped (zaps), by reason.
#
# usage: tclsh tcl-scripts/scenarios/shadow-paging.tcl ?-guest NAME? ?-options STR? ?-memory SIZE? ?-top N? ?-timeout S? ?-db PATH?
source [file join [file dirname [info script]] common.tcl]

set opts [scenario::options {-guest ptest -options {} -memory 64M -top 10 -timeout 300 -db nestbed-shadow-paging.db} \
	"usage: tclsh [info script] ?-guest NAME? ?-options STR? ?-memory SIZE? ?-top N? ?-timeout S? ?-db PATH?
  -guest NAME     the guest image (default ptest: processes, demand paging, remaps)
  -options STR    its options (default none)
  -memory SIZE    its memory (default 64M); the machine gets 64M more for nbvmm
  -top N          how many pages to list by shadow fills (default 10)
  -timeout S      the limit for the run, in seconds (default 300)
  -db PATH        the trace database (default ./nestbed-shadow-paging.db)"]
set top [dict get $opts -top]
if {![string is integer -strict $top] || $top < 0} {
	puts stderr "shadow-paging: -top '$top': not a number of pages"
	exit 2
}
if {![regexp {^([0-9]+)M$} [dict get $opts -memory] -> mib]} {
	puts stderr "shadow-paging: -memory '[dict get $opts -memory]': give it in MiB (e.g. 64M)"
	exit 2
}
set caps [nestbed::capabilities]
if {[dict get $caps max_depth] < 2} {
	puts stderr "shadow-paging: shadow paging is nbvmm's, at depth 2, which this build cannot run: [dict get $caps depth_limit]"
	exit 1
}

# Why nbvmm dropped shadow entries: enum spt_zap_reason in shadow/spt.h (old_val of a
# SHADOW_ZAP record), which the store does not name.
set zap_reasons {
	1 {pt-write      a guest page-table write: the shadow entries derived from it}
	2 {evict         a CR3's shadow roots left the cache}
	3 {all           everything (a global flush)}
	4 {mode          a paging-mode change}
	5 {write-protect a frame became a guest page table: leaves mapping it made read-only}
	6 {host          a PML4 slot taken for nbvmm's own mappings}
}

proc percent {part whole} {
	expr {$whole ? [format %.1f [expr {100.0 * $part / $whole}]] : "-"}
}

try {
	set guest [nestbed::image [dict get $opts -guest]]
	set m [nestbed::machine create -memory [expr {$mib + 64}]M \
		-guests [list [list -image $guest -options [dict get $opts -options] -memory [dict get $opts -memory]]]]
	set r [$m run -timeout [dict get $opts -timeout] -db [dict get $opts -db]]
	$m destroy
	set run [dict get $r run_id]
	set t [nestbed::trace open [dict get $r db]]

	# Traps at level 1 by exit reason, and what nbvmm did with each (trap_actions).
	set traps {}
	set total 0
	$t eval {SELECT coalesce(x.name, printf('0x%x', e.exit_code)) AS reason, count(*) AS n,
			sum(a.name = 'EMULATED') AS emulated, sum(a.name = 'DELIVERED') AS delivered,
			sum(a.name = 'SHADOW_FILL') AS filled, sum(a.name NOT IN ('EMULATED', 'DELIVERED', 'SHADOW_FILL')) AS other
		FROM events e JOIN event_kinds k ON k.kind = e.kind JOIN trap_actions a ON a.action = e.action
		LEFT JOIN exit_codes x ON x.code = e.exit_code
		WHERE e.run_id = $run AND e.rec_level = 1 AND k.name = 'TRAP'
		GROUP BY e.exit_code ORDER BY n DESC, reason} {
		lappend traps [list $reason $n "" $emulated $delivered $filled $other]
		incr total $n
	}
	set traps [lmap row $traps {lset row 2 [percent [lindex $row 1] $total]}]
	lassign [$t eval {SELECT count(*), coalesce(sum(a.name = 'SHADOW_FILL'), 0), coalesce(sum(a.name = 'DELIVERED'), 0)
		FROM events e JOIN event_kinds k ON k.kind = e.kind JOIN trap_actions a ON a.action = e.action
		LEFT JOIN exit_codes x ON x.code = e.exit_code
		WHERE e.run_id = $run AND e.rec_level = 1 AND k.name = 'TRAP' AND x.name = 'EXCP_PF'}] pf pf_hidden pf_guest

	# Shadow fills per guest page (as v_shadow_fills_per_page counts them), the busiest first, with
	# the guest-physical frames they mapped (exit_info2 of a fill is the gpa).
	lassign [$t eval {SELECT count(*), coalesce(sum(fills), 0) FROM v_shadow_fills_per_page
		WHERE run_id = $run AND rec_level = 1}] pages fills
	set fill_rows [$t eval {SELECT printf('0x%016x', e.addr & ~4095) AS page, count(*) AS fills,
			count(DISTINCT e.exit_info2 & ~4095) AS frames
		FROM events e JOIN event_kinds k ON k.kind = e.kind
		WHERE e.run_id = $run AND e.rec_level = 1 AND k.name = 'SHADOW_FILL'
		GROUP BY e.addr & ~4095 ORDER BY fills DESC, page LIMIT $top}]

	# Guest page-table writes nbvmm emulated, by the level of the table written (aux; 0 when no
	# shadow derives from that frame). Bit 0 of an entry is its present bit.
	set pt_rows {}
	set pt_total 0
	$t eval {SELECT e.aux AS level, count(*) AS n, count(DISTINCT e.addr) AS entries,
			sum(e.old_val <> e.new_val) AS changed, sum((e.old_val & 1) = 0 AND (e.new_val & 1) = 1) AS mapped,
			sum((e.old_val & 1) = 1 AND (e.new_val & 1) = 0) AS unmapped
		FROM events e JOIN event_kinds k ON k.kind = e.kind
		WHERE e.run_id = $run AND e.rec_level = 1 AND k.name = 'PT_WRITE'
		GROUP BY e.aux ORDER BY e.aux DESC} {
		lappend pt_rows [list [expr {$level ? "L$level" : "none"}] $n $entries $changed $mapped $unmapped]
		incr pt_total $n
	}

	# CR3 switches: aux = 1 when the new CR3's shadow roots were cached (no rebuild).
	lassign [$t eval {SELECT count(*), coalesce(sum(e.aux = 1), 0), count(DISTINCT e.new_val)
		FROM events e JOIN event_kinds k ON k.kind = e.kind
		WHERE e.run_id = $run AND e.rec_level = 1 AND k.name = 'CR3_SWITCH'}] cr3 cr3_reused cr3_distinct
	lassign [$t eval {SELECT count(*), coalesce(sum(e.aux), 0)
		FROM events e JOIN event_kinds k ON k.kind = e.kind
		WHERE e.run_id = $run AND e.rec_level = 1 AND k.name = 'INVLPG'}] invlpg invlpg_dropped

	# Zaps by reason (old_val), with the entries they dropped or downgraded (aux).
	set zap_rows {}
	$t eval {SELECT e.old_val AS reason, count(*) AS n, sum(e.aux) AS entries
		FROM events e JOIN event_kinds k ON k.kind = e.kind
		WHERE e.run_id = $run AND e.rec_level = 1 AND k.name = 'SHADOW_ZAP'
		GROUP BY e.old_val ORDER BY n DESC} {
		set name [expr {[dict exists $zap_reasons $reason] ? [dict get $zap_reasons $reason] : "reason-$reason (unknown)"}]
		lappend zap_rows [list [lindex $name 0] $n $entries [lrange $name 1 end]]
	}
	$t close
} on error {msg erropts} {
	scenario::fail $msg $erropts
}

puts "Shadow paging for [dict get $opts -guest] at depth 2 (nbvmm at level 1 runs it at level 2) on [info hostname]:"
puts [format "  %s %d after %.3f s; %d events, %d traps at level 1." \
	[dict get $r reason] [dict get $r status] [dict get $r wall] [dict get $r events] $total]

puts ""
puts "Traps at level 1 by exit reason, and what nbvmm did with them"
puts [scenario::indent [nestbed::table {reason traps share_% emulated delivered shadow_fill other} $traps]]
puts ""
puts "  Page faults at level 1: $pf."
puts "  - $pf_hidden hidden ([percent $pf_hidden $pf]%): the guest's own tables map the page; nbvmm built the"
puts "    shadow entry and resumed the guest, which never saw the fault."
puts "  - $pf_guest delivered to the guest: its own faults (demand paging, bad accesses)."
puts "  - [expr {$pf - $pf_hidden - $pf_guest}] emulated: writes to guest page tables, which nbvmm write-protects"
puts "    to keep its shadows in step ($pt_total page-table writes recorded)."

puts ""
puts "Shadow fills: $fills on $pages guest-virtual pages; the top $top. A page is filled again for each"
puts "address space and shadow root (kernel, user) that maps it, and after its entry was dropped;"
puts "frames: the guest-physical frames its fills mapped."
set rows {}
foreach {page n frames} $fill_rows {
	lappend rows [list $page $n $frames]
}
puts [scenario::indent [expr {[llength $rows] ? [nestbed::table {guest_page fills frames} $rows] : "(none)"}]]

puts ""
puts "Guest page-table writes nbvmm emulated, by table level (none: no shadow derives from the frame)"
puts [scenario::indent [expr {[llength $pt_rows] ? [nestbed::table {table writes entries changed mapped unmapped} $pt_rows] : "(none)"}]]

puts ""
puts "CR3 switches: $cr3 to $cr3_distinct distinct address spaces; $cr3_reused reused cached shadow roots\
([percent $cr3_reused $cr3]%), [expr {$cr3 - $cr3_reused}] built new ones."
puts "INVLPG: $invlpg, dropping $invlpg_dropped shadow entries."

puts ""
puts "Shadow zaps by reason"
puts [scenario::indent [expr {[llength $zap_rows] ? [nestbed::table {reason zaps entries meaning} $zap_rows] : "(none)"}]]

puts ""
puts "Trace database: [dict get $r db] (run $run). The same questions in SQL: db/README.md."
exit [expr {[dict get $r reason] eq "guest-exit" ? 0 : 1}]
