# Machine trees deeper than 2 on /dev/kvm: nbvmm runs nbvmm (trap-and-emulate recursion), one
# level per nbvmm. The chain's mapping (each level's image a module of L1, each level's options
# its module's arguments, each level's memory and ring its hypervisor's mem= and ring=, the last
# level's modules after the images), the result dict, the console callback's levels, the VM tree
# in the store, and depth 4 once. Hello takes about 10 s at depth 3, 45 s at depth 4.
source [file join [file dirname [info script]] tap.tcl]

if {![tcltest::testConstraint kvm]} {
	tap::skip_all [dict get $tap::why kvm]
}
if {![tcltest::testConstraint nbvmm]} {
	tap::skip_all [dict get $tap::why nbvmm]
}
if {![tcltest::testConstraint hello]} {
	tap::skip_all [dict get $tap::why hello]
}
set tmp [tap::tmpdir]
set hello [file join $tap::builddir guests hello hello.elf]

# One run of hello at depth 3 with every size left to nbvmm, shared by the tests that read it.
set m [nestbed::machine create {*}[tap::chain 3 [list -image $hello -options {records=2 exit=5}]]]
set ::lines {}
set r [$m run -timeout 300 -db $tmp/d3.db -console tap::collect]
set d3_lines $::lines
$m destroy

test depth3-1.1 {hello at depth 3: its own exit status, three levels, nothing lost} -body {
	dict filter $r key status reason guest_exited levels lost report
} -result {status 5 reason guest-exit guest_exited 1 levels 3 lost 0 report {}}

# The level-2 nbvmm finds the SVM level 1 offers and runs hello with VMRUN (nbvmm's default).
test depth3-1.2 {the console callback sees each nbvmm at its level and hello at level 3} -body {
	set ::lines $d3_lines
	list [tap::at_level 1] [tap::at_level 2] [lindex [tap::at_level 3] 0] [lindex [tap::at_level 3] end] \
		[expr {[llength $::lines] == [dict get $r console_lines]}]
} -match glob -result {{{nbvmm: level 1 running 'nbvmm' as level 2 (vm 2, * MiB)}} {{nbvmm: level 2 running 'hello' as level 3 (vm 3, * MiB)} {nbvmm: level 2 runs level 3 with VMRUN and nested paging}} {hello from nestbed level 3 (vm 3)} {hello: exit 5} 1}

test depth3-1.3 {the store has the VM tree: vm N at level N, its parent one level up, memory shrinking} -body {
	set t [nestbed::trace open $tmp/d3.db]
	set vms [$t vms]
	list [lmap v $vms {dict filter $v key vm_id level parent_vm_id image}] \
		[expr {[dict get [lindex $vms 0] memory_bytes] > [dict get [lindex $vms 1] memory_bytes] &&
		       [dict get [lindex $vms 1] memory_bytes] > [dict get [lindex $vms 2] memory_bytes]}]
} -match glob -result {{{vm_id 1 level 1 parent_vm_id {} image *l1-vmm/nbvmm.elf} {vm_id 2 level 2 parent_vm_id 1 image nbvmm} {vm_id 3 level 3 parent_vm_id 2 image hello}} 1} \
	-cleanup { $t close }

# Level 1 runs hello for the level-2 nbvmm (its VMRUN), so it records traps of level 3 too: the
# ones it handles itself and the exits it reflects to level 2.
test depth3-1.4 {each nbvmm's traps reach the store at its level; level 1 traps more than level 2 (exit multiplication)} -body {
	set t [nestbed::trace open $tmp/d3.db]
	set traps [dict create]
	foreach row [$t traps] {
		dict incr traps [dict get $row level] [dict get $row count]
	}
	set by_guest [$t eval {SELECT DISTINCT rec_level || '>' || guest_level FROM events WHERE kind IN (1, 2) ORDER BY 1}]
	list [lsort [dict keys $traps]] $by_guest [expr {[dict get $traps 2] >= 100}] \
		[expr {[dict get $traps 1] > 2 * [dict get $traps 2]}] [llength [$t events -kind guest -level 3]]
} -result {{0 1 2} {1>2 1>3 2>3} 1 1 2} -cleanup { $t close }

test depth3-1.5 {the run's command line records the tree} -body {
	set t [nestbed::trace open $tmp/d3.db]
	dict get [lindex [$t runs] 0] command_line
} -match glob -result {tcl: nestbed::machine create -memory 64M -options {} -guests {{-guests {{-image *hello.elf -options {records=2 exit=5}}}}}; $m run -timeout 300 *} \
	-cleanup { $t close }

test depth3-2.1 {each level's -memory and -ringsize become its hypervisor's mem= and ring=; the last level's modules reach it} -body {
	set f [open $tmp/payload.txt w]
	puts -nonewline $f deep-payload
	close $f
	set m [nestbed::machine create -memory 160M -options timeout=600 -guests [list [list -options timeout=300 \
		-memory 96M -ringsize 512K -guests [list [list -image $hello -memory 24M -ringsize 64K \
		-modules [list [list payload $tmp/payload.txt {alpha beta}]]]]]]]
	set ::lines {}
	set r2 [$m run -timeout 300 -db $tmp/sizes.db -console tap::collect]
	set t [nestbed::trace open $tmp/sizes.db]
	set text [join [tap::at_level 3] \n]
	list [dict get $r2 status] [tap::at_level 1] [tap::at_level 2] [lsearch -inline [tap::at_level 3] ring:*] \
		[string match {*name "payload"*args "alpha beta"*} $text] [string match *deep-payload* $text] \
		[lmap v [$t vms] {dict get $v memory_bytes}] [dict get [lindex [$t vms] 0] args]
} -match glob -result [list 0 {{nbvmm: level 1 running 'nbvmm' as level 2 (vm 2, 96 MiB)}} \
	{{nbvmm: level 2 running 'hello' as level 3 (vm 3, 24 MiB)} {nbvmm: level 2 runs level 3 with VMRUN and nested paging}} \
	{ring: * size 0x10000 *} 1 1 \
	[list [expr {160 << 20}] [expr {96 << 20}] [expr {24 << 20}]] {timeout=600 mem=96 ring=512}] \
	-cleanup { $t close; $m destroy }

test depth3-2.2 {with -tracing 0 no level gets a trace ring: each nbvmm is given ring=0} -body {
	set m [nestbed::machine create {*}[tap::chain 3 [list -image $hello -options records=3 -ringsize 64K]]]
	set ::lines {}
	set r2 [$m run -timeout 300 -tracing 0 -db $tmp/notrace.db -console tap::collect]
	set t [nestbed::trace open $tmp/notrace.db]
	list [dict get $r2 status] [lsearch -inline [tap::at_level 3] ring:*] \
		[$t eval {SELECT count(*) FROM events WHERE rec_level > 0}] [dict get [lindex [$t vms] 0] args]
} -match glob -result {0 {ring: 0x0 size 0x0 *} 0 ring=0} -cleanup { $t close; $m destroy }

test depth3-3.1 {hello runs at depth 4: four levels, its lines at level 4, the VM tree four deep} -body {
	set m [nestbed::machine create {*}[tap::chain 4 [list -image $hello -options exit=4]]]
	set ::lines {}
	set r4 [$m run -timeout 600 -db $tmp/d4.db -console tap::collect]
	set t [nestbed::trace open $tmp/d4.db]
	set traps [dict create]
	foreach row [$t traps] {
		dict incr traps [dict get $row level] [dict get $row count]
	}
	list [dict filter $r4 key status levels lost] [lindex [tap::at_level 4] 0] [lindex [tap::at_level 3] 0] \
		[lmap v [$t vms] {dict filter $v key vm_id level parent_vm_id image}] [lsort [dict keys $traps]]
} -match glob -result {{status 4 levels 4 lost 0} {hello from nestbed level 4 (vm 4)} {nbvmm: level 3 running 'hello' as level 4 (vm 4, * MiB)} {{vm_id 1 level 1 parent_vm_id {} image *nbvmm.elf} {vm_id 2 level 2 parent_vm_id 1 image nbvmm} {vm_id 3 level 3 parent_vm_id 2 image nbvmm} {vm_id 4 level 4 parent_vm_id 3 image hello}} {0 1 2 3}} \
	-cleanup { $t close; $m destroy }

tap::done
