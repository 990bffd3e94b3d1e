# nestbed::trace and nestbed::summary: opening trace databases (and refusing what is not one),
# SQL with bound variables, the named helpers, 64-bit values through raw sqlite3, and the table
# printed for people. The databases come from real runs of hello, so most tests need /dev/kvm.
source [file join [file dirname [info script]] tap.tcl]
package require sqlite3

set tmp [tap::tmpdir]
set hello [file join $tap::builddir guests hello hello.elf]
set db $tmp/hello.db
set runnable [expr {[tcltest::testConstraint kvm] && [tcltest::testConstraint hello]}]
tap::constraint traced $runnable "no trace to read: [expr {[tcltest::testConstraint kvm] ? [dict get $tap::why hello] : [dict get $tap::why kvm]}]"
if {$runnable} {
	# Two runs in one file: run 1 exits 0 with 5 guest records, run 2 exits 7.
	set m [nestbed::machine create -image $hello -options {records=5 print=3}]
	set run1 [$m run -timeout 30 -db $db]
	$m configure -options {exit=7 records=2}
	set run2 [$m run -timeout 30 -db $db]
	$m destroy
}

test trace-1.1 {opening a missing file is a NESTBED DB error} -body {
	catch {nestbed::trace open $tmp/missing.db} msg opts
	list [lrange [dict get $opts -errorcode] 0 1] $msg
} -result [list {NESTBED DB} "trace database '$tmp/missing.db': no such file"]

test trace-1.2 {opening a missing file does not create it} -body {
	catch {nestbed::trace open $tmp/missing.db}
	file exists $tmp/missing.db
} -result 0

test trace-1.3 {a directory is not a trace database} -body {
	tap::code { nestbed::trace open $tmp }
} -result {NESTBED DB}

test trace-1.4 {a file that is not SQLite is a NESTBED DB error} -body {
	set f [open $tmp/text.db w]
	puts $f [string repeat "not a database " 100]
	close $f
	catch {nestbed::trace open $tmp/text.db} msg opts
	list [lrange [dict get $opts -errorcode] 0 1] $msg
} -result [list {NESTBED DB} "trace database '$tmp/text.db': file is not a database"]

test trace-1.5 {an SQLite file without the nestbed tables is a NESTBED DB error} -body {
	sqlite3 other $tmp/other.db
	other eval {CREATE TABLE t (x)}
	other close
	catch {nestbed::trace open $tmp/other.db} msg opts
	list [lrange [dict get $opts -errorcode] 0 1] $msg
} -result [list {NESTBED DB} "trace database '$tmp/other.db': not a nestbed trace (no table runs)"]

test trace-1.6 {a trace of another schema version is refused} -constraints traced -body {
	file copy -force $db $tmp/v99.db
	sqlite3 raw $tmp/v99.db
	raw eval {PRAGMA user_version = 99}
	raw close
	catch {nestbed::trace open $tmp/v99.db} msg opts
	list [lrange [dict get $opts -errorcode] 0 1] $msg
} -result [list {NESTBED DB} "trace database '$tmp/v99.db': schema version 99, this package reads version [dict get [nestbed::capabilities] schema_version]"]

test trace-1.6.1 {a trace of an older schema version is migrated when opened} -constraints traced -body {
	file copy -force $db $tmp/v2.db
	sqlite3 raw $tmp/v2.db
	raw eval {DROP VIEW v_kvm_events; PRAGMA user_version = 2}
	raw close
	set t [nestbed::trace open $tmp/v2.db]
	set kinds [$t eval {SELECT count(*) FROM v_kvm_events}]
	$t close
	sqlite3 raw $tmp/v2.db
	set version [raw onecolumn {PRAGMA user_version}]
	raw close
	list $version [string is integer -strict $kinds]
} -result [list [dict get [nestbed::capabilities] schema_version] 1]

set unreadable $tmp/unreadable.db
close [open $unreadable w]
file attributes $unreadable -permissions 000
tap::constraint denied [expr {![file readable $unreadable]}] "[exec id -un] can read a file of mode 000"

test trace-1.7 {an unreadable file is a NESTBED DB error} -constraints denied -body {
	catch {nestbed::trace open $unreadable} msg opts
	list [lrange [dict get $opts -errorcode] 0 1] $msg
} -result [list {NESTBED DB} "trace database '$unreadable': not readable"]

test trace-1.7.1 {a dangling symbolic link is a NESTBED DB error} -body {
	exec ln -s $tmp/nowhere.db $tmp/dangling.db
	tap::code { nestbed::trace open $tmp/dangling.db }
} -result {NESTBED DB}

test trace-1.8 {open takes -readonly, nothing else} -constraints traced -body {
	list [tap::code { nestbed::trace open $db -colour red }] [tap::code { nestbed::trace open $db -readonly }]
} -result {{NESTBED USAGE} {NESTBED USAGE}}

test trace-1.9 {open needs a path} -body {
	catch {nestbed::trace open} msg
	set msg
} -result {wrong # args: should be "nestbed::trace open path ?arg ...?"}

test trace-2.1 {a trace object is a command; close removes it} -constraints traced -body {
	set t [nestbed::trace open $db]
	set before [expr {[info commands $t] eq $t}]
	$t close
	list $before [info commands $t]
} -result {1 {}}

test trace-2.2 {path gives the normalized file name} -constraints traced -body {
	set t [nestbed::trace open $db]
	$t path
} -result $db -cleanup { $t close }

test trace-2.3 {runs lists every run in the file with how it ended} -constraints traced -body {
	set t [nestbed::trace open $db]
	lmap r [$t runs] { dict filter $r key run_id completed exit_status stop_reason }
} -result {{run_id 1 completed 1 exit_status 0 stop_reason guest-exit} {run_id 2 completed 1 exit_status 7 stop_reason guest-exit}} \
	-cleanup { $t close }

test trace-3.1 {eval binds variables from the caller's scope} -constraints traced -body {
	set t [nestbed::trace open $db]
	proc count_kind {t name} {
		$t eval {SELECT count(*) FROM events e JOIN event_kinds k USING (kind) WHERE k.name = $name AND e.run_id = 1}
	}
	count_kind $t GUEST
} -result 5 -cleanup { $t close; rename count_kind {} }

test trace-3.2 {eval with an array and a script runs the script per row, in the caller's scope} -constraints traced -body {
	set t [nestbed::trace open $db]
	set statuses {}
	$t eval {SELECT run_id, exit_status FROM runs ORDER BY run_id} row {
		lappend statuses $row(run_id):$row(exit_status)
	}
	set statuses
} -result {1:0 2:7} -cleanup { $t close }

test trace-3.3 {break in an eval script ends the loop} -constraints traced -body {
	set t [nestbed::trace open $db]
	set n 0
	$t eval {SELECT event_id FROM events} {
		if {[incr n] == 3} break
	}
	set n
} -result 3 -cleanup { $t close }

test trace-3.4 {an SQL error is a NESTBED DB error} -constraints traced -body {
	set t [nestbed::trace open $db]
	catch {$t eval {SELEC 1}} msg opts
	list [lrange [dict get $opts -errorcode] 0 1] [string match "*syntax error*" $msg]
} -result {{NESTBED DB} 1} -cleanup { $t close }

test trace-3.5 {an error in an eval script keeps its own error code} -constraints traced -body {
	set t [nestbed::trace open $db]
	tap::errorcode { $t eval {SELECT 1 AS one} { throw {MYTEST ROW} "row error" } }
} -result {MYTEST ROW} -cleanup { $t close }

test trace-3.6 {the trace is read-only by default} -constraints traced -body {
	set t [nestbed::trace open $db]
	catch {$t eval {DELETE FROM runs}} msg opts
	list [lrange [dict get $opts -errorcode] 0 1] [string match "*readonly*" $msg]
} -result {{NESTBED DB} 1} -cleanup { $t close }

test trace-3.7 {eval needs SQL and at most an array and a script} -constraints traced -body {
	set t [nestbed::trace open $db]
	tap::code { $t eval {SELECT 1} a b c }
} -result {NESTBED USAGE} -cleanup { $t close }

test trace-4.1 {traps: L0's exits by reason, one count per exit of the run} -constraints traced -body {
	set t [nestbed::trace open $db]
	set traps [$t traps -run 1]
	set total 0
	foreach r $traps { incr total [dict get $r count] }
	list [dict keys [lindex $traps 0]] [dict filter [lindex $traps 0] key level exit_code exit_name] \
		[expr {$total == [dict get $run1 exits]}]
} -result {{run level exit_code exit_name count handled reflected} {level 0 exit_code 0x7b exit_name IOIO} 1} \
	-cleanup { $t close }

test trace-4.2 {traps take -level} -constraints traced -body {
	set t [nestbed::trace open $db]
	list [llength [$t traps -level 0]] [llength [$t traps -level 1]]
} -result {1 0} -cleanup { $t close }

test trace-4.3 {helpers read the latest run unless told: -run N, or -run all} -constraints traced -body {
	set t [nestbed::trace open $db]
	list [lsort -unique [lmap r [$t traps] {dict get $r run}]] [lsort -unique [lmap r [$t traps -run all] {dict get $r run}]]
} -result {2 {1 2}} -cleanup { $t close }

test trace-4.4 {a run that is not in the file is a NESTBED DB error} -constraints traced -body {
	set t [nestbed::trace open $db]
	catch {$t traps -run 9} msg opts
	list [lrange [dict get $opts -errorcode] 0 1] $msg
} -result [list {NESTBED DB} "trace database '$db' has no run 9 (runs: 1 2)"] -cleanup { $t close }

test trace-4.5 {a run id that is not an integer is a usage error} -constraints traced -body {
	set t [nestbed::trace open $db]
	tap::code { $t traps -run first }
} -result {NESTBED USAGE} -cleanup { $t close }

test trace-4.6 {helpers refuse unknown options} -constraints traced -body {
	set t [nestbed::trace open $db]
	catch {$t traps -vm 1} msg opts
	list [lrange [dict get $opts -errorcode] 0 1] $msg
} -result [list {NESTBED USAGE} "::nestbed::trace* traps: bad option \"-vm\": must be -level, -run"] -match glob \
	-cleanup { $t close }

test trace-5.1 {events of one VM, with names and hex values} -constraints traced -body {
	set t [nestbed::trace open $db]
	set ev [$t events -vm 1 -run 1 -kind guest]
	set e [lindex $ev 0]
	list [llength $ev] [dict get $e kind] [dict get $e vm_id] [regexp {^0x[0-9a-f]{16}$} [dict get $e rip]] \
		[regexp {^0x[0-9a-f]{16}$} [dict get $e addr]]
} -result {5 GUEST 1 1 1} -cleanup { $t close }

test trace-5.2 {events take -limit} -constraints traced -body {
	set t [nestbed::trace open $db]
	llength [$t events -vm 1 -limit 4]
} -result 4 -cleanup { $t close }

test trace-5.3 {an unknown event kind is a usage error naming the kinds} -constraints traced -body {
	set t [nestbed::trace open $db]
	catch {$t events -kind bogus} msg opts
	list [lrange [dict get $opts -errorcode] 0 1] [string match "*must be one of TRAP, *, PT_WRITE, *" $msg]
} -result {{NESTBED USAGE} 1} -cleanup { $t close }

test trace-5.4 {the L0 port-I/O events carry their decoded instruction} -constraints traced -body {
	set t [nestbed::trace open $db]
	set e [lindex [$t events -kind IO -level 0 -limit 1] 0]
	list [dict get $e exit_code] [string match {in*} [dict get $e insn]]
} -result {0x7b 1} -cleanup { $t close }

test trace-5.5 {console gives the lines a run printed} -constraints traced -body {
	set t [nestbed::trace open $db]
	set c [$t console -run 1]
	list [dict get [lindex $c 0] line] [expr {[llength $c] == [dict get $run1 console_lines]}]
} -result {{hello from nestbed level 1 (vm 1)} 1} -cleanup { $t close }

test trace-5.6 {vms gives the machine tree of a run} -constraints traced -body {
	set t [nestbed::trace open $db]
	dict filter [lindex [$t vms -run 1] 0] key vm_id level image memory_bytes
} -result [list vm_id 1 level 1 image $hello memory_bytes 67108864] -cleanup { $t close }

test trace-5.7 {lost is empty when nothing was lost} -constraints traced -body {
	set t [nestbed::trace open $db]
	$t lost
} -result {} -cleanup { $t close }

test trace-5.8 {ptwrites is empty at depth 1, where no level shadows page tables} -constraints traced -body {
	set t [nestbed::trace open $db]
	$t ptwrites -run 1
} -result {} -cleanup { $t close }

test trace-6.1 {values of 2^63 and above written with raw sqlite3 come back as hex} -constraints traced -body {
	file copy -force $db $tmp/u64.db
	# Raw SQL on the same file: the store keeps u64 bit-cast to signed; s64 does the cast.
	sqlite3 raw $tmp/u64.db
	set gpa [nestbed::s64 0xffff800000001008]
	set old [nestbed::s64 0x8000000000000063]
	set new [nestbed::s64 0xffffffffffffffff]
	raw eval {INSERT INTO events (run_id, ts, rec_level, guest_level, vm_id, vcpu, kind, action, exit_code,
		exit_info1, exit_info2, rip, addr, old_val, new_val, aux)
		VALUES (1, 0, 1, 2, 2, 0, 4, 0, 0, 0, 0, $old, $gpa, $old, $new, 1)}
	raw close
	set t [nestbed::trace open $tmp/u64.db]
	dict filter [lindex [$t ptwrites -run 1 -vm 2] 0] key entry_gpa old_val new_val rip
} -result {entry_gpa 0xffff800000001008 old_val 0x8000000000000063 new_val 0xffffffffffffffff rip 0x8000000000000063} \
	-cleanup { $t close }

test trace-6.2 {raw columns read back as signed; u64 and hex recover the value} -constraints traced -body {
	set t [nestbed::trace open $tmp/u64.db]
	set x [nestbed::s64 0xffff800000001008]
	set raw [$t eval {SELECT addr FROM events WHERE addr = $x}]
	list $raw [nestbed::u64 $raw] [nestbed::hex $raw]
} -result {-140737488351224 18446603336221200392 0xffff800000001008} -cleanup { $t close }

test trace-6.3 {a trace object and a raw sqlite3 connection share the file} -constraints traced -body {
	set t [nestbed::trace open $db]
	sqlite3 raw $db -readonly 1
	set a [raw onecolumn {SELECT count(*) FROM events WHERE run_id = 1}]
	set b [$t eval {SELECT count(*) FROM events WHERE run_id = 1}]
	raw close
	list [expr {$a == $b}] [expr {$a == [dict get $run1 events]}]
} -result {1 1} -cleanup { $t close }

test trace-6.4 {db gives the sqlite3 command behind a trace object} -constraints traced -body {
	set t [nestbed::trace open $db]
	[$t db] onecolumn {SELECT max(run_id) FROM runs}
} -result 2 -cleanup { $t close }

test trace-6.5 {hex, s64 and u64 at the edges} -body {
	list [nestbed::hex 0] [nestbed::hex -1] [nestbed::s64 [expr {2**63}]] [nestbed::u64 [expr {-2**63}]] \
		[nestbed::hex 18446744073709551615] [nestbed::s64 -5]
} -result {0x0000000000000000 0xffffffffffffffff -9223372036854775808 9223372036854775808 0xffffffffffffffff -5}

test trace-6.6 {hex, s64 and u64 refuse what is not a 64-bit integer} -body {
	list [tap::code { nestbed::hex abc }] [tap::code { nestbed::s64 [expr {2**64}]}] [tap::code { nestbed::u64 1.5 }]
} -result {{NESTBED USAGE} {NESTBED USAGE} {NESTBED USAGE}}

test trace-7.1 {summary of a run as a dict} -constraints traced -body {
	set t [nestbed::trace open $db]
	set s [$t summary -run 1]
	list [dict get $s run_id] [dict get $s stop_reason] [dict get $s exit_status] \
		[expr {[dict get $s events] == [dict get $run1 events]}] [dict get $s records_lost] \
		[lsort -unique [lmap r [dict get $s by_level_kind] {dict get $r level}]] \
		[expr {[dict get [lindex [dict get $s traps] 0] count] > 0}] [llength [dict get $s vms]]
} -result {1 guest-exit 0 1 0 {0 1} 1 1} -cleanup { $t close }

test trace-7.2 {summary reads the latest run by default and refuses -run all} -constraints traced -body {
	set t [nestbed::trace open $db]
	list [dict get [$t summary] run_id] [tap::code { $t summary -run all }]
} -result {2 {NESTBED USAGE}} -cleanup { $t close }

test trace-8.1 {nestbed::summary prints the run as tables, and where the file is} -constraints traced -body {
	set text [nestbed::summary $db -run 1]
	lmap pattern [list {Run 1: guest-exit, exit status 0*} "*Events by level and kind ([dict get $run1 events] events)*" \
		{*L0 *IO *} {*Traps by level and reason*0x7b*IOIO*} {*L1> hello from nestbed level 1 (vm 1)*} \
		{*Records lost: 0*} "*Trace database: $db (run 1)"] {
		string match $pattern $text
	}
} -result {1 1 1 1 1 1 1}

test trace-8.2 {nestbed::summary limits the console lines it shows} -constraints traced -body {
	set text [nestbed::summary $db -run 1 -console 2]
	list [regexp -all {\n  L1> } $text] [string match "*... * more lines*" $text]
} -result {2 1}

test trace-8.2.1 {nestbed::summary says a run with no end recorded (nestbed killed) is unfinished} -constraints traced -body {
	file copy -force $db $tmp/killed.db
	sqlite3 raw $tmp/killed.db
	raw eval {UPDATE runs SET ended_at = NULL, completed = 0, exit_status = NULL, stop_reason = NULL WHERE run_id = 1}
	raw close
	set t [nestbed::trace open $tmp/killed.db]
	set outcome [dict get [$t summary -run 1] outcome]
	$t close
	list $outcome [string match {Run 1: unfinished (no end recorded: nestbed was killed, or is still running)*} \
		[nestbed::summary $tmp/killed.db -run 1]]
} -result {unfinished 1}

test trace-8.3 {nestbed::summary of a missing file is a NESTBED DB error} -body {
	tap::code { nestbed::summary $tmp/missing.db }
} -result {NESTBED DB}

test trace-8.4 {nestbed::summary refuses unknown options} -constraints traced -body {
	tap::code { nestbed::summary $db -verbose 1 }
} -result {NESTBED USAGE}

test trace-8.5 {nestbed::table aligns columns, numbers to the right} -body {
	nestbed::table {name count} {{alpha 1} {b 1000}}
} -result "name   count\nalpha      1\nb       1000"

tap::done
