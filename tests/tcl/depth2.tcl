# Machine trees of depth 2 on /dev/kvm: nbvmm at level 1 runs a guest at level 2. The tree's
# mapping onto nbvmm (image, options, modules, memory, ring), the result dict, the console
# callback's levels, the trace level 1 leaves, and a guest that must behave the same at depth 1
# and depth 2 (ptest).
source [file join [file dirname [info script]] tap.tcl]

if {![tcltest::testConstraint kvm]} {
	tap::skip_all [dict get $tap::why kvm]
}
if {![tcltest::testConstraint nbvmm]} {
	tap::skip_all [dict get $tap::why nbvmm]
}
set tmp [tap::tmpdir]
set hello [file join $tap::builddir guests hello hello.elf]
set ptest [file join $tap::builddir guests ptest ptest.elf]
set nbvmm [file join $tap::builddir l1-vmm nbvmm.elf]

# One run of hello at depth 2, shared by the tests that read it: exit=5 and four records of its own.
if {[tcltest::testConstraint hello]} {
	set m [nestbed::machine create -memory 128M -guests [list [list -image $hello -options {records=4 exit=5}]]]
	set ::lines {}
	set r [$m run -timeout 120 -db $tmp/hello.db -console tap::collect]
	set hello_lines $::lines
	$m destroy
}

test depth2-1.1 {hello under nbvmm: its own exit status, two levels, the documented dict} -constraints hello -body {
	list [dict filter $r key status reason guest_exited levels lost report] [dict get $r db] [dict get $r run_id] \
		[expr {[dict get $r events] > [dict get $r exits]}]
} -result [list {status 5 reason guest-exit guest_exited 1 levels 2 lost 0 report {}} $tmp/hello.db 1 1]

test depth2-1.2 {the console callback sees nbvmm at level 1 and the guest at level 2} -constraints hello -body {
	set ::lines $hello_lines
	list [lindex [tap::at_level 1] 0] [lindex [tap::at_level 2] 0] [lindex [tap::at_level 2] end] \
		[expr {[llength $::lines] == [dict get $r console_lines]}]
} -match glob -result {{nbvmm: level 1 running 'hello' as level 2 *} {hello from nestbed level 2 *} {hello: exit 5} 1}

test depth2-1.3 {the store knows the tree: nbvmm as vm 1 at level 1, the guest as vm 2 at level 2} -constraints hello -body {
	set t [nestbed::trace open $tmp/hello.db]
	lmap v [$t vms] {dict filter $v key vm_id level parent_vm_id image}
} -result [list {vm_id 1 level 1 parent_vm_id {} image *l1-vmm/nbvmm.elf} {vm_id 2 level 2 parent_vm_id 1 image hello}] \
	-match glob -cleanup { $t close }

test depth2-1.4 {level 1 traps for the guest: port I/O it emulated, page faults it filled shadows for} -constraints hello -body {
	set t [nestbed::trace open $tmp/hello.db]
	set traps [dict create]
	foreach row [$t traps -level 1] {
		dict set traps [dict get $row exit_name] [dict get $row count]
	}
	set fills [$t eval {SELECT count(*) FROM events e JOIN event_kinds k ON k.kind = e.kind
		WHERE k.name = 'SHADOW_FILL' AND e.rec_level = 1 AND e.guest_level = 2 AND e.vm_id = 2}]
	list [expr {[dict get $traps IOIO] >= 20}] [expr {[dict get $traps EXCP_PF] >= 1}] [expr {$fills >= 5}] \
		[llength [$t events -kind guest -level 2]]
} -result {1 1 1 4} -cleanup { $t close }

test depth2-1.5 {the run's command line records the tree} -constraints hello -body {
	set t [nestbed::trace open $tmp/hello.db]
	dict get [lindex [$t runs] 0] command_line
} -match glob -result {tcl: nestbed::machine create -memory 128M -options {} -guests *hello.elf -options {records=4 exit=5}*; $m run -timeout 120 *} \
	-cleanup { $t close }

test depth2-2.1 {the guest's -memory and -ringsize become nbvmm's mem= and ring=} -constraints hello -body {
	set m [nestbed::machine create -guests [list [list -image $hello -memory 32M -ringsize 64K]]]
	set ::lines {}
	$m run -timeout 120 -db $tmp/sizes.db -console tap::collect
	set t [nestbed::trace open $tmp/sizes.db]
	list [lsearch -inline [tap::at_level 1] nbvmm:*] [lsearch -inline [tap::at_level 2] ring:*] \
		[lmap v [$t vms] {dict get $v args}] [dict get [lindex [$t vms] 1] memory_bytes]
} -match glob -result {{nbvmm: level 1 running 'hello' as level 2 (vm 2, 32 MiB)} {ring: * size 0x10000 *} {{mem=32 ring=64} {}} 33554432} \
	-cleanup { $t close; $m destroy }

test depth2-2.2 {the guest's modules reach it with their names and arguments, after its image} -constraints hello -body {
	set f [open $tmp/payload.txt w]
	puts -nonewline $f module-payload
	close $f
	set m [nestbed::machine create -guests [list [list -image $hello -modules [list [list payload $tmp/payload.txt {alpha beta}]]]]]
	set ::lines {}
	$m run -timeout 120 -console tap::collect
	set text [join [tap::at_level 2] \n]
	list [string match {*modules: 1*} $text] [string match {*name "payload"*args "alpha beta"*} $text] \
		[string match *module-payload* $text]
} -result {1 1 1} -cleanup { $m destroy }

test depth2-2.3 {-image nbvmm, an explicit path to nbvmm, and no -image run the same} -constraints hello -body {
	lmap image [list nbvmm $nbvmm {}] {
		set m [nestbed::machine create {*}[expr {$image eq "" ? "" : [list -image $image]}] \
			-guests [list [list -image $hello -options exit=9]]]
		set r2 [$m run -timeout 120]
		$m destroy
		dict filter $r2 key status levels
	}
} -result {{status 9 levels 2} {status 9 levels 2} {status 9 levels 2}}

test depth2-2.4 {with -tracing 0 neither nbvmm nor its guest gets a trace ring} -constraints hello -body {
	set m [nestbed::machine create -guests [list [list -image $hello -options records=3 -ringsize 64K]]]
	set ::lines {}
	set r2 [$m run -timeout 120 -tracing 0 -db $tmp/notrace.db -console tap::collect]
	set t [nestbed::trace open $tmp/notrace.db]
	list [dict get $r2 status] [lsearch -inline [tap::at_level 2] ring:*] \
		[$t eval {SELECT count(*) FROM events WHERE rec_level > 0}] [lindex [lmap v [$t vms] {dict get $v args}] 0]
} -match glob -result {0 {ring: 0x0 size 0x0 *} 0 ring=0} -cleanup { $t close; $m destroy }

test depth2-2.5 {a callback error at level 2 stops the machine and is the run's error} -constraints hello -body {
	set m [nestbed::machine create -guests [list [list -image $hello -options print=500]]]
	catch {
		$m run -timeout 120 -console {apply {{level line} {
			if {$level == 2} { throw {MYTEST L2} "level 2 said: $line" }
		}}}
	} msg opts
	list $msg [dict get $opts -errorcode]
} -match glob -result {{level 2 said: hello from nestbed level 2 *} {MYTEST L2}} -cleanup { $m destroy }

test depth2-3.1 {ptest passes at depth 2 and prints exactly what it prints at depth 1} -constraints ptest -body {
	set m1 [nestbed::machine create -image $ptest]
	set ::lines {}
	set r1 [$m1 run -timeout 120 -console tap::collect]
	set out1 [tap::at_level 1]
	set m2 [nestbed::machine create -memory 128M -guests [list [list -image $ptest -memory 64M]]]
	set ::lines {}
	set r2 [$m2 run -timeout 300 -db $tmp/ptest.db -console tap::collect]
	set out2 [tap::at_level 2]
	list [dict get $r1 status] [dict get $r2 status] [dict get $r2 levels] [llength [lsearch -all $out2 FAIL*]] \
		[expr {[llength [lsearch -all $out2 PASS*]] >= 30}] [expr {$out1 eq $out2 ? "same" : [list $out1 $out2]}]
} -result {0 0 2 0 1 same} -cleanup { $m1 destroy; $m2 destroy }

test depth2-3.2 {ptest's trace at level 1: page-table writes with table levels, CR3 switches, cached roots reused} -constraints ptest -body {
	set t [nestbed::trace open $tmp/ptest.db]
	set writes [$t ptwrites -level 1]
	set cr3 [$t events -kind cr3_switch -level 1]
	list [expr {[llength $writes] >= 5}] [lsort -unique [lmap w $writes {expr {[dict get $w table_level] > 0}}]] \
		[expr {[llength $cr3] >= 3}] [expr {[llength [lsearch -all -exact [lmap c $cr3 {dict get $c aux}] 1]] >= 1}]
} -result {1 1 1 1} -cleanup { $t close }

tap::done
