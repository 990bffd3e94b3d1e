# The Tcl half of the package nestbed: reading trace databases, and tables for people.
#
# The C extension (loaded first by pkgIndex.tcl) runs machines; everything here only reads the
# SQLite store, through the sqlite3 package, so the same file can be opened with sqlite3 directly
# and queried with raw SQL alongside these helpers. The schema and its views are documented in
# db/schema.sql. Errors carry -errorcode {NESTBED <CODE> message}, as the C commands' do.

package require sqlite3

namespace eval ::nestbed {
	# Not trace and image: [namespace import nestbed::*] would hide Tcl's trace and Tk's image.
	namespace export machine summary table hex s64 u64 capabilities
	variable traceCounter 0
	# The schema this package reads: the store refuses other versions, and so does trace open.
	variable schemaVersion [dict get [capabilities] schema_version]
}

# Raises a Tcl error that scripts can trap as {NESTBED CODE}.
proc ::nestbed::Error {code message} {
	return -code error -level 2 -errorcode [list NESTBED $code $message] $message
}

# Parses -name value pairs against a dict of defaults; the result is the defaults updated.
proc ::nestbed::Options {what defaults arglist} {
	set names [lsort [dict keys $defaults]]
	if {[llength $arglist] % 2 && [dict exists $defaults [lindex $arglist end]]} {
		Error USAGE "$what: option [lindex $arglist end] needs a value"
	}
	set opts $defaults
	foreach {name value} $arglist {
		if {![dict exists $defaults $name]} {
			Error USAGE "$what: bad option \"$name\": must be [join $names {, }]"
		}
		dict set opts $name $value
	}
	return $opts
}

proc ::nestbed::Integer {what value} {
	if {![string is entier -strict $value]} {
		Error USAGE "$what '$value': not an integer"
	}
	return $value
}

# 64-bit values are stored bit-cast to signed integers (db/schema.sql); these convert for scripts.
# hex: 0x%016x of a stored (signed) or unsigned 64-bit value.
proc ::nestbed::hex {value} {
	format 0x%016llx [expr {[Integer hex $value] & 0xffffffffffffffff}]
}

# s64: the signed integer under which the store keeps an unsigned 64-bit value (to bind in SQL).
proc ::nestbed::s64 {value} {
	set v [Integer s64 $value]
	if {$v < -(2**63) || $v >= 2**64} {
		Error USAGE "s64 '$value': not a 64-bit value"
	}
	expr {$v >= 2**63 ? $v - 2**64 : $v}
}

# u64: the unsigned value of a stored (signed) one.
proc ::nestbed::u64 {value} {
	set v [Integer u64 $value]
	if {$v < -(2**63) || $v >= 2**64} {
		Error USAGE "u64 '$value': not a 64-bit value"
	}
	expr {$v & 0xffffffffffffffff}
}

# A plain-text table: one header row, columns as wide as their widest cell, numbers right-aligned.
proc ::nestbed::table {headers rows} {
	set n [llength $headers]
	for {set c 0} {$c < $n} {incr c} {
		set width($c) [string length [lindex $headers $c]]
		set numeric($c) 1
	}
	foreach row $rows {
		for {set c 0} {$c < $n} {incr c} {
			set cell [lindex $row $c]
			set width($c) [expr {max($width($c), [string length $cell])}]
			if {$cell ne "" && ![string is double -strict $cell]} {
				set numeric($c) 0
			}
		}
	}
	set lines {}
	foreach row [linsert $rows 0 $headers] {
		set cells {}
		for {set c 0} {$c < $n} {incr c} {
			set align [expr {$numeric($c) ? "" : "-"}]
			lappend cells [format "%${align}*s" $width($c) [lindex $row $c]]
		}
		lappend lines [string trimright [join $cells "  "]]
	}
	join $lines \n
}

# ---------------------------------------------------------------------------------------------
# Trace objects: nestbed::trace open PATH returns one.

namespace eval ::nestbed::trace {
	namespace export open
	namespace ensemble create
}

# nestbed::trace open PATH ?-readonly bool?
proc ::nestbed::trace::open {path args} {
	set opts [::nestbed::Options "trace open" {-readonly 1} $args]
	set name ::nestbed::trace[incr ::nestbed::traceCounter]
	::nestbed::Trace create $name $path [dict get $opts -readonly]
}

# Builds "WHERE a AND b" from conditions (empty when there are none).
proc ::nestbed::Where {conditions} {
	if {[llength $conditions] == 0} {
		return ""
	}
	return "WHERE [join $conditions { AND }]"
}

oo::class create ::nestbed::Trace {
	variable db path

	constructor {file readonly} {
		set path [file normalize $file]
		if {![file exists $path]} {
			::nestbed::Error DB "trace database '$file': no such file"
		}
		if {![file isfile $path]} {
			::nestbed::Error DB "trace database '$file': not a file"
		}
		if {![file readable $path]} {
			::nestbed::Error DB "trace database '$file': not readable"
		}
		set db [namespace current]::db
		if {[catch {sqlite3 $db $path -readonly $readonly -create 0} msg]} {
			::nestbed::Error DB "trace database '$file': $msg"
		}
		# A foreign database fails here, on its first read, rather than on a later query.
		if {[catch {
			set version [$db onecolumn {PRAGMA user_version}]
			set tables [$db eval {SELECT name FROM sqlite_master WHERE type = 'table'}]
		} msg]} {
			$db close
			::nestbed::Error DB "trace database '$file': $msg"
		}
		foreach table {runs events event_kinds exit_codes console} {
			if {$table ni $tables} {
				$db close
				::nestbed::Error DB "trace database '$file': not a nestbed trace (no table $table)"
			}
		}
		if {$version >= 1 && $version < $::nestbed::schemaVersion} {
			# An older file: the store migrates it (tables added, views replaced), or says why not.
			$db close
			::nestbed::UpgradeTrace $path
			sqlite3 $db $path -readonly $readonly -create 0
			set version [$db onecolumn {PRAGMA user_version}]
		}
		if {$version != $::nestbed::schemaVersion} {
			$db close
			::nestbed::Error DB "trace database '$file': schema version $version, this package reads version $::nestbed::schemaVersion"
		}
	}

	destructor {
		if {[info exists db] && [info commands $db] ne ""} {
			$db close
		}
	}

	method close {} {
		my destroy
	}

	# The file, and the sqlite3 connection behind this object (for raw SQL: [$t db] eval ...).
	method path {} {
		return $path
	}
	method db {} {
		return $db
	}

	# eval SQL ?arrayName? ?script?: the sqlite3 eval, with $variables bound from the caller's scope
	# and the script run there. An error in the SQL is {NESTBED DB ...}; the script's own errors,
	# break and continue pass through untouched.
	method eval {sql args} {
		if {[llength $args] > 2} {
			::nestbed::Error USAGE "wrong # args: should be \"[self] eval sql ?arrayName? ?script?\""
		}
		if {[llength $args] > 0} {
			lset args end [list ::nestbed::GuardScript [lindex $args end]]
		}
		set code [catch {uplevel 1 [list $db eval $sql {*}$args]} result options]
		if {$code == 1 && ![dict exists $options -nestbedscript]} {
			::nestbed::Error DB "[self] eval: $result"
		}
		dict unset options -nestbedscript
		dict incr options -level
		return -options $options $result
	}

	# The run to look at: -run ID, or "all", or by default the latest run in the file.
	method Run {run} {
		if {$run eq "all"} {
			return ""
		}
		if {$run eq ""} {
			set run [$db onecolumn {SELECT max(run_id) FROM runs}]
			if {$run eq ""} {
				::nestbed::Error DB "trace database '$path' holds no runs"
			}
			return $run
		}
		::nestbed::Integer "-run" $run
		if {![$db exists {SELECT 1 FROM runs WHERE run_id = $run}]} {
			::nestbed::Error DB "trace database '$path' has no run $run (runs: [$db eval {SELECT run_id FROM runs ORDER BY run_id}])"
		}
		return $run
	}

	# Rows of a query as a list of dicts, columns in the query's order; the query's $variables
	# are bound from the dict bindings.
	method Rows {sql {bindings {}}} {
		dict with bindings {}
		set rows {}
		$db eval $sql row {
			set d {}
			foreach c $row(*) {
				dict set d $c $row($c)
			}
			lappend rows $d
		}
		return $rows
	}

	# Conditions and bindings for the usual filters: -run (see Run) and integer options, each
	# compared with its column ({-run run_id -vm vm_id}); an empty option is no condition.
	method Filter {o columns} {
		set where {}
		set bind {}
		dict for {opt column} $columns {
			set value [dict get $o $opt]
			if {$opt eq "-run"} {
				set value [my Run $value]
			} elseif {$value ne ""} {
				::nestbed::Integer $opt $value
			}
			if {$value ne ""} {
				set var [string range $opt 1 end]
				lappend where "$column = \$$var"
				dict set bind $var $value
			}
		}
		list $where $bind
	}

	# One row per run: how it ended and what it recorded (the view v_run_summary).
	method runs {} {
		my Rows {SELECT * FROM v_run_summary ORDER BY run_id}
	}

	# Traps by level and reason: which exits each level took, how many it handled and how many it
	# reflected to a nested hypervisor. L0 records the exits KVM hands it under the kind of device
	# that served them (IO, HYPERCALL, MMIO...) with their SVM exit code, so they count here too.
	method traps {args} {
		set o [::nestbed::Options "[self] traps" {-run "" -level ""} $args]
		lassign [my Filter $o {-run e.run_id -level e.rec_level}] where bind
		lappend where {(k.name IN ('TRAP', 'EXIT_REFLECTED') OR (e.rec_level = 0 AND
			k.name IN ('IO', 'MMIO', 'HYPERCALL', 'HLT', 'SHUTDOWN', 'EMULATION_ERROR')))}
		my Rows "SELECT e.run_id AS run, e.rec_level AS level, printf('0x%x', e.exit_code) AS exit_code,
			coalesce(x.name, '') AS exit_name, count(*) AS count,
			sum(k.name <> 'EXIT_REFLECTED') AS handled, sum(k.name = 'EXIT_REFLECTED') AS reflected
			FROM events e JOIN event_kinds k ON k.kind = e.kind
			LEFT JOIN exit_codes x ON x.code = e.exit_code
			[::nestbed::Where $where]
			GROUP BY e.run_id, e.rec_level, e.exit_code
			ORDER BY e.run_id, e.rec_level, count(*) DESC, e.exit_code" $bind
	}

	# Guest page-table writes, in order, values as hex (the view v_pt_writes).
	method ptwrites {args} {
		set o [::nestbed::Options "[self] ptwrites" {-run "" -vm "" -level "" -limit -1} $args]
		lassign [my Filter $o {-run run_id -vm vm_id -level rec_level}] where bind
		dict set bind limit [::nestbed::Integer -limit [dict get $o -limit]]
		my Rows "SELECT * FROM v_pt_writes [::nestbed::Where $where] ORDER BY event_id LIMIT \$limit" $bind
	}

	# Events in order with their names spelt out and values as hex (the view v_events).
	method events {args} {
		set o [::nestbed::Options "[self] events" {-run "" -vm "" -level "" -kind "" -limit -1} $args]
		lassign [my Filter $o {-run run_id -vm vm_id -level rec_level}] where bind
		dict set bind limit [::nestbed::Integer -limit [dict get $o -limit]]
		if {[set kind [string toupper [dict get $o -kind]]] ne ""} {
			set kinds [$db eval {SELECT name FROM event_kinds ORDER BY kind}]
			if {$kind ni $kinds} {
				::nestbed::Error USAGE "[self] events: unknown kind \"[dict get $o -kind]\": must be one of [join $kinds {, }]"
			}
			lappend where {kind = $kind}
			dict set bind kind $kind
		}
		my Rows "SELECT * FROM v_events [::nestbed::Where $where] ORDER BY event_id LIMIT \$limit" $bind
	}

	# What the guests printed, line by line: {run_id ts level vm_id line}.
	method console {args} {
		set o [::nestbed::Options "[self] console" {-run "" -level "" -vm ""} $args]
		lassign [my Filter $o {-run run_id -level level -vm vm_id}] where bind
		my Rows "SELECT run_id, ts, level, vm_id, line FROM console [::nestbed::Where $where]
			ORDER BY console_id" $bind
	}

	# The machine tree of a run: the rows of the vms table (level, parent, image, memory, args).
	method vms {args} {
		set o [::nestbed::Options "[self] vms" {-run ""} $args]
		lassign [my Filter $o {-run run_id}] where bind
		my Rows "SELECT * FROM vms [::nestbed::Where $where] ORDER BY run_id, vm_id" $bind
	}

	# Records lost, by level, VM and reason.
	method lost {args} {
		set o [::nestbed::Options "[self] lost" {-run ""} $args]
		lassign [my Filter $o {-run run_id}] where bind
		my Rows "SELECT * FROM records_lost [::nestbed::Where $where] ORDER BY run_id, level, vm_id, reason" $bind
	}

	# One run in a dict: its row of v_run_summary (how it ended, counts) and its report, plus as
	# lists of dicts: events by level and kind, traps by level and reason, records lost, the VMs.
	method summary {args} {
		set o [::nestbed::Options "[self] summary" {-run ""} $args]
		if {[dict get $o -run] eq "all"} {
			::nestbed::Error USAGE "[self] summary: -run must name one run"
		}
		set run [my Run [dict get $o -run]]
		set bind [dict create run $run]
		set summary [lindex [my Rows {SELECT * FROM v_run_summary WHERE run_id = $run} $bind] 0]
		dict set summary report [$db onecolumn {SELECT report FROM runs WHERE run_id = $run}]
		dict set summary by_level_kind [my Rows {
			SELECT e.rec_level AS level, coalesce(k.name, 'kind ' || e.kind) AS kind, count(*) AS events
			FROM events e LEFT JOIN event_kinds k ON k.kind = e.kind
			WHERE e.run_id = $run GROUP BY e.rec_level, e.kind ORDER BY e.rec_level, count(*) DESC} $bind]
		dict set summary traps [my traps -run $run]
		dict set summary lost [my lost -run $run]
		dict set summary vms [my vms -run $run]
		return $summary
	}
}

# Runs a script given to [$t eval] in the caller's scope, marking its errors as its own rather
# than the database's (sqlite3 passes the return options through).
proc ::nestbed::GuardScript {script} {
	set code [catch {uplevel 1 $script} result options]
	if {$code == 1} {
		dict set options -nestbedscript 1
	}
	dict incr options -level
	return -options $options $result
}

# ---------------------------------------------------------------------------------------------
# nestbed::summary PATH ?-run id?: a run of a trace database as tables for people.

proc ::nestbed::summary {path args} {
	set o [Options "nestbed::summary" {-run "" -console 20} $args]
	set t [trace open $path]
	try {
		set s [$t summary -run [dict get $o -run]]
		set console [$t console -run [dict get $s run_id]]
		set dbpath [$t path]
	} finally {
		$t close
	}
	set out {}
	set run [dict get $s run_id]
	if {[dict get $s outcome] eq "unfinished"} {
		lappend out "Run $run: unfinished (no end recorded: nestbed was killed, or is still running)"
	} else {
		lappend out "Run $run: [dict get $s stop_reason], exit status [dict get $s exit_status][expr {[dict get $s completed] ? "" : " (did not complete)"}]"
	}
	lappend out "  started [dict get $s started_at], ended [dict get $s ended_at]"
	lappend out "  [dict get $s command_line]"
	if {[dict get $s report] ne ""} {
		lappend out "  report:" {*}[lmap l [split [string trimright [dict get $s report]] \n] {string cat "    " $l}]
	}

	lappend out "" "Events by level and kind ([dict get $s events] events)"
	set rows [lmap r [dict get $s by_level_kind] {list L[dict get $r level] [dict get $r kind] [dict get $r events]}]
	lappend out [Indent [table {level kind events} $rows]]

	lappend out "" "Traps by level and reason"
	set rows [lmap r [dict get $s traps] {
		list L[dict get $r level] [dict get $r exit_code] [dict get $r exit_name] [dict get $r count] \
			[dict get $r handled] [dict get $r reflected]
	}]
	lappend out [expr {[llength $rows] ? [Indent [table {level exit_code reason count handled reflected} $rows]] : "  (none)"}]

	set limit [Integer -console [dict get $o -console]]
	lappend out "" "Console ([dict get $s console_lines] lines)"
	foreach r [lrange $console 0 [expr {$limit - 1}]] {
		lappend out "  L[dict get $r level]> [dict get $r line]"
	}
	if {[llength $console] > max($limit, 0)} {
		lappend out "  ... [expr {[llength $console] - max($limit, 0)}] more lines"
	}

	lappend out "" "Records lost: [dict get $s records_lost]"
	if {[llength [dict get $s lost]]} {
		set rows [lmap r [dict get $s lost] {list L[dict get $r level] [dict get $r vm_id] [dict get $r reason] [dict get $r count]}]
		lappend out [Indent [table {level vm reason count} $rows]]
	}
	lappend out "" "Trace database: $dbpath (run $run)"
	join $out \n
}

proc ::nestbed::Indent {text} {
	join [lmap l [split $text \n] {string cat "  " $l}] \n
}

# The Popek-Goldberg audit (nestbed::probes, nestbed::virtualizable) lives in its own file.
source [file join [file dirname [info script]] virtualizable.tcl]
