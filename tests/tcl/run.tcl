# $m run: real guests on /dev/kvm. The result dict, exit statuses, the console callback (lines,
# errors, break), timeouts and crashes, and the errors a run can end with.
source [file join [file dirname [info script]] tap.tcl]

if {![tcltest::testConstraint kvm]} {
	tap::skip_all [dict get $tap::why kvm]
}
set tmp [tap::tmpdir]
set hello [file join $tap::builddir guests hello hello.elf]
set misbehave [file join $tap::builddir guests misbehave misbehave.elf]

test run-1.1 {a run of hello returns the documented dict} -constraints hello -body {
	set m [nestbed::machine create -image $hello]
	dict keys [$m run -timeout 30]
} -result {status reason guest_exited levels exits events lost console_lines db run_id wall report} \
	-cleanup { $m destroy }

test run-1.2 {hello exits 0 by its own choice, at level 1} -constraints hello -body {
	set m [nestbed::machine create -image $hello]
	set r [$m run -timeout 30 -db $tmp/hello.db]
	dict filter $r key status reason guest_exited levels lost report
} -result {status 0 reason guest-exit guest_exited 1 levels 1 lost 0 report {}} -cleanup { $m destroy }

test run-1.3 {a traced run counts exits, events and console lines, and names its database} -constraints hello -body {
	set m [nestbed::machine create -image $hello -options {records=5}]
	set r [$m run -timeout 30 -db $tmp/counts.db]
	list [expr {[dict get $r exits] > 50}] [expr {[dict get $r events] > [dict get $r exits]}] \
		[expr {[dict get $r console_lines] >= 3}] [dict get $r db] [dict get $r run_id] \
		[expr {[dict get $r wall] > 0 && [dict get $r wall] < 30}]
} -result [list 1 1 1 $tmp/counts.db 1 1] -cleanup { $m destroy }

test run-1.4 {a relative -db path comes back absolute} -constraints hello -body {
	set m [nestbed::machine create -image $hello]
	set here [pwd]
	cd $tmp
	set r [$m run -timeout 30 -db relative.db]
	cd $here
	dict get $r db
} -result $tmp/relative.db -cleanup { $m destroy }

test run-1.5 {a second run into the same database is the next run} -constraints hello -body {
	set m [nestbed::machine create -image $hello]
	$m run -timeout 30 -db $tmp/two.db
	dict get [$m run -timeout 30 -db $tmp/two.db] run_id
} -result 2 -cleanup { $m destroy }

test run-1.6 {a run without -db stores nothing} -constraints hello -body {
	set m [nestbed::machine create -image $hello]
	dict filter [$m run -timeout 30] key db run_id events status
} -result {status 0 events 0 db {} run_id 0} -cleanup { $m destroy }

test run-1.7 {the machine can run again and again} -constraints hello -body {
	set m [nestbed::machine create -image $hello]
	lmap i {1 2 3} { dict get [$m run -timeout 30] status }
} -result {0 0 0} -cleanup { $m destroy }

test run-2.1 {the guest's exit status becomes the run's status} -constraints hello -body {
	set m [nestbed::machine create -image $hello -options exit=7]
	dict filter [$m run -timeout 30] key status reason guest_exited
} -result {status 7 reason guest-exit guest_exited 1} -cleanup { $m destroy }

test run-2.2 {options reconfigured between runs reach the guest} -constraints hello -body {
	set m [nestbed::machine create -image $hello -options exit=3]
	set a [dict get [$m run -timeout 30] status]
	$m configure -options exit=4
	list $a [dict get [$m run -timeout 30] status]
} -result {3 4} -cleanup { $m destroy }

test run-2.3 {modules reach the guest with their arguments} -constraints hello -body {
	set f [open $tmp/payload.txt w]
	puts -nonewline $f module-payload
	close $f
	set m [nestbed::machine create -image $hello -modules [list [list payload $tmp/payload.txt {alpha beta}]]]
	set ::lines {}
	$m run -timeout 30 -console tap::collect
	set text [join [lmap l $::lines {lindex $l 1}] \n]
	list [string match "*payload*alpha beta*" $text] [string match *module-payload* $text]
} -result {1 1} -cleanup { $m destroy }

test run-3.1 {the console callback gets every line with its level} -constraints hello -body {
	set m [nestbed::machine create -image $hello -options print=4]
	set ::lines {}
	set r [$m run -timeout 30 -console tap::collect]
	list [lindex $::lines 0] [expr {[llength $::lines] == [dict get $r console_lines]}] \
		[lsort -unique [lmap l $::lines {lindex $l 0}]]
} -result {{1 {hello from nestbed level 1 (vm 1)}} 1 1} -cleanup { $m destroy }

test run-3.2 {the callback is a command prefix: level and line are appended} -constraints hello -body {
	set m [nestbed::machine create -image $hello]
	set ::seen {}
	$m run -timeout 30 -console [list apply {{tag level line} { lappend ::seen $tag:$level }} T]
	lindex $::seen 0
} -result T:1 -cleanup { $m destroy }

test run-3.3 {the callback runs during the run, before run returns} -constraints hello -body {
	set m [nestbed::machine create -image $hello -options print=2]
	set ::order {}
	$m run -timeout 30 -console {apply {{level line} { if {[llength $::order] == 0} { lappend ::order callback } }}}
	lappend ::order returned
} -result {callback returned} -cleanup { $m destroy }

test run-3.4 {an error in the callback stops the machine and is the run's error} -constraints hello -body {
	set m [nestbed::machine create -image $hello -options print=500]
	set ::calls 0
	catch {
		$m run -timeout 30 -db $tmp/cberror.db -console {apply {{level line} {
			incr ::calls
			return -code error -errorcode {MYTEST BOOM} "boom at: $line"
		}}}
	} msg opts
	list $msg [dict get $opts -errorcode] $::calls \
		[string match "*console callback of $m; the machine was stopped*" [dict get $opts -errorinfo]]
} -result {{boom at: hello from nestbed level 1 (vm 1)} {MYTEST BOOM} 1 1} -cleanup { $m destroy }

test run-3.5 {after a callback error the trace says the run was interrupted early} -constraints hello -body {
	set t [nestbed::trace open $tmp/cberror.db]
	set s [$t summary]
	list [dict get $s stop_reason] [dict get $s exit_status] [expr {[dict get $s console_lines] < 100}]
} -result {interrupted 130 1} -cleanup { $t close }

test run-3.6 {a callback error can be trapped by its own error code} -constraints hello -body {
	set m [nestbed::machine create -image $hello]
	try {
		$m run -timeout 30 -console {apply {{l s} { throw {MYTEST STOP} stop }}}
	} trap {MYTEST STOP} {msg} {
		set msg
	}
} -result stop -cleanup { $m destroy }

test run-3.7 {break in the callback stops the machine without an error} -constraints hello -body {
	set m [nestbed::machine create -image $hello -options print=500]
	set ::n 0
	set r [$m run -timeout 30 -console {apply {{level line} { if {[incr ::n] == 3} { return -code break } }}}]
	list [dict get $r reason] [dict get $r status] $::n [expr {[dict get $r console_lines] < 100}]
} -result {interrupted 130 3 1} -cleanup { $m destroy }

test run-3.8 {a callback may destroy its own machine: the run ends normally} -constraints hello -body {
	set m [nestbed::machine create -image $hello]
	set ::victim $m
	set r [$m run -timeout 30 -console {apply {{l s} { if {[info commands $::victim] ne ""} { $::victim destroy } }}}]
	list [dict get $r status] [info commands $m]
} -result {0 {}}

test run-3.9 {a callback cannot start a second run: one machine runs at a time} -constraints hello -body {
	set m [nestbed::machine create -image $hello]
	set ::inner $m
	catch {$m run -timeout 30 -console {apply {{l s} { $::inner run }}}} msg opts
	list [lrange [dict get $opts -errorcode] 0 1] [string match "*another machine is running*" $msg]
} -result {{NESTBED USAGE} 1} -cleanup { $m destroy }

test run-3.10 {a callback cannot reconfigure the running machine} -constraints hello -body {
	set m [nestbed::machine create -image $hello]
	set ::inner $m
	catch {$m run -timeout 30 -console {apply {{l s} { $::inner configure -memory 32M }}}} msg opts
	list [lrange [dict get $opts -errorcode] 0 1] [$m cget -memory]
} -result {{NESTBED USAGE} 64M} -cleanup { $m destroy }

test run-4.1 {a timeout is a result, not an error: reason timeout, status 124} -constraints misbehave -body {
	set m [nestbed::machine create -image $misbehave -options do=loop]
	set r [$m run -timeout 0.5 -db $tmp/timeout.db]
	list [dict get $r reason] [dict get $r status] [dict get $r guest_exited] \
		[expr {[dict get $r wall] >= 0.5 && [dict get $r wall] < 10}] [expr {[dict get $r report] ne ""}]
} -result {timeout 124 0 1 1} -cleanup { $m destroy }

test run-4.2 {a triple fault is a result with status 126 and a crash report} -constraints misbehave -body {
	set m [nestbed::machine create -image $misbehave -options do=triple]
	set r [$m run -timeout 30]
	list [dict get $r reason] [dict get $r status] [expr {[string length [dict get $r report]] > 20}]
} -result {triple-fault 126 1} -cleanup { $m destroy }

test run-5.1 {with tracing off the guest has no ring: L0 still records its own events} -constraints hello -body {
	set m [nestbed::machine create -image $hello -options records=5]
	set r [$m run -timeout 30 -tracing 0 -db $tmp/notrace.db]
	set t [nestbed::trace open $tmp/notrace.db]
	list [dict get $r status] [expr {[dict get $r events] > 0}] [llength [$t events -kind GUEST]]
} -result {0 1 0} -cleanup { $t close; $m destroy }

test run-5.2 {with tracing on the guest's own records reach the store} -constraints hello -body {
	set m [nestbed::machine create -image $hello -options records=5]
	$m run -timeout 30 -tracing 1 -db $tmp/trace.db
	set t [nestbed::trace open $tmp/trace.db]
	llength [$t events -kind GUEST -level 1]
} -result 5 -cleanup { $t close; $m destroy }

# The run loop drains the ring every 100 ms, so how many records a tick rescues depends on the
# machine's speed: the test checks the accounting (stored + lost = written), not a count.
test run-5.3 {records lost to a full ring are counted in the result} -constraints hello -body {
	set m [nestbed::machine create -image $hello -options {records=2000 flush=0} -ringsize 8K]
	set r [$m run -timeout 60 -db $tmp/flood.db]
	set t [nestbed::trace open $tmp/flood.db]
	set stored [llength [$t events -kind GUEST -level 1]]
	list [dict get $r status] [expr {[dict get $r lost] > 0}] [expr {$stored + [dict get $r lost]}]
} -result {0 1 2000} -cleanup { $t close; $m destroy }

test run-6.1 {memory the library refuses is a usage error at run time} -constraints hello -body {
	set m [nestbed::machine create -image $hello -memory 1M]
	catch {$m run -timeout 30} msg opts
	list [lrange [dict get $opts -errorcode] 0 1] [string match "*must be between 4 MiB and 3 GiB*" $msg]
} -result {{NESTBED USAGE} 1} -cleanup { $m destroy }

test run-6.2 {a file that is not a kernel is a NESTBED IMAGE error at run time} -body {
	set f [open $tmp/text.elf w]
	puts $f "this is not an ELF file"
	close $f
	set m [nestbed::machine create -image $tmp/text.elf]
	tap::code { $m run -timeout 30 }
} -result {NESTBED IMAGE} -cleanup { $m destroy }

test run-6.3 {a database that cannot be created is a NESTBED DB error} -constraints hello -body {
	set m [nestbed::machine create -image $hello]
	tap::code { $m run -timeout 30 -db $tmp/no/such/dir/x.db }
} -result {NESTBED DB} -cleanup { $m destroy }

test run-6.4 {a KVM device that does not exist is a NESTBED KVM error} -constraints hello -body {
	set m [nestbed::machine create -image $hello -kvm $tmp/no-kvm]
	tap::code { $m run -timeout 30 }
} -result {NESTBED KVM} -cleanup { $m destroy }

test run-6.5 {an image deleted after create is a NESTBED IMAGE error at run time} -body {
	file copy -force $hello $tmp/gone.elf
	set m [nestbed::machine create -image $tmp/gone.elf]
	file delete $tmp/gone.elf
	tap::code { $m run -timeout 30 }
} -constraints hello -result {NESTBED IMAGE} -cleanup { $m destroy }

tap::done
