# nestbed::machine: describing machines (create, configure, cget, destroy), trees of guests, and
# every error a description can have, or a tree this build cannot run. Nothing here boots a
# guest, so nothing needs /dev/kvm.
source [file join [file dirname [info script]] tap.tcl]

set tmp [tap::tmpdir]
set hello [file join $tap::builddir guests hello hello.elf]
# Stand-in images: the machine checks that files exist; their content is the loader's business.
set image [file join $tmp image.elf]
set module [file join $tmp module.txt]
foreach f [list $image $module] {
	set ch [open $f w]
	puts $ch "not really an image"
	close $ch
}
file mkdir [file join $tmp adir]

test machine-1.1 {create returns a fully-qualified object command} -body {
	set m [nestbed::machine create -image $image]
	list [string match ::nestbed::machine* $m] [expr {[info commands $m] eq $m}]
} -result {1 1} -cleanup { $m destroy }

test machine-1.2 {create with a name makes that command} -body {
	nestbed::machine create m1 -image $image
} -result ::m1 -cleanup { m1 destroy }

test machine-1.3 {every automatic name is new} -body {
	set a [nestbed::machine create -image $image]
	set b [nestbed::machine create -image $image]
	expr {$a ne $b}
} -result 1 -cleanup { $a destroy; $b destroy }

test machine-1.4 {create is reached through the ensemble, also by prefix} -body {
	set m [nestbed::machine cr -image $image]
	$m cget -image
} -result $image -cleanup { $m destroy }

test machine-2.1 {a machine without -image is a usage error} -body {
	tap::errorcode { nestbed::machine create -memory 64M }
} -result {NESTBED USAGE {machine create: no image given (-image PATH)}}

test machine-2.1.1 {an empty -image is no image, when there are no guests} -body {
	tap::errorcode { nestbed::machine create -image {} }
} -result {NESTBED USAGE {machine create: no image given (-image PATH)}}

test machine-2.2 {a missing image file is a NESTBED IMAGE error naming the file} -body {
	catch {nestbed::machine create -image $tmp/nope.elf} msg opts
	list [lrange [dict get $opts -errorcode] 0 1] $msg
} -result [list {NESTBED IMAGE} "guest image '$tmp/nope.elf': no such file or directory"]

test machine-2.3 {a directory is not an image} -body {
	catch {nestbed::machine create -image $tmp/adir} msg
	set msg
} -result "guest image '$tmp/adir': not a regular file"

test machine-2.4 {an unknown option is a usage error listing the options} -body {
	catch {nestbed::machine create -image $image -colour blue} msg opts
	list [lrange [dict get $opts -errorcode] 0 1] $msg
} -result {{NESTBED USAGE} {bad option "-colour": must be -image, -memory, -options, -modules, -guests, -ringsize, or -kvm}}

test machine-2.5 {an option without its value is a usage error} -body {
	catch {nestbed::machine create -image $image -memory} msg opts
	list [lrange [dict get $opts -errorcode] 0 1] $msg
} -result {{NESTBED USAGE} {option -memory needs a value}}

test machine-2.6 {a memory size that does not parse is a usage error} -body {
	catch {nestbed::machine create -image $image -memory lots} msg opts
	list [lrange [dict get $opts -errorcode] 0 1] $msg
} -result {{NESTBED USAGE} {-memory 'lots': not a size (e.g. 64M, 1G)}}

test machine-2.7 {memory sizes take K, M, G and iB suffixes} -body {
	set m [nestbed::machine create -image $image]
	lmap size {4096 512K 64M 1G 64MiB 0x4000000} {
		$m configure -memory $size
		$m cget -memory
	}
} -result {4096 512K 64M 1G 64MiB 0x4000000} -cleanup { $m destroy }

test machine-2.8 {a negative memory size is refused} -body {
	tap::code { nestbed::machine create -image $image -memory -64M }
} -result {NESTBED USAGE}

test machine-2.9 {a ring size that does not parse is a usage error} -body {
	tap::code { nestbed::machine create -image $image -ringsize big }
} -result {NESTBED USAGE}

test machine-2.10 {an empty -kvm path is a usage error} -body {
	tap::code { nestbed::machine create -image $image -kvm {} }
} -result {NESTBED USAGE}

test machine-3.1 {modules are {name path ?args?}} -body {
	set m [nestbed::machine create -image $image -modules [list [list payload $module {alpha beta}] [list two $module]]]
	llength [$m cget -modules]
} -result 2 -cleanup { $m destroy }

test machine-3.2 {a module of one element is a usage error} -body {
	catch {nestbed::machine create -image $image -modules {{payload}}} msg opts
	list [lrange [dict get $opts -errorcode] 0 1] $msg
} -result {{NESTBED USAGE} {-modules: 'payload' is not {name path ?args?}}}

test machine-3.3 {a missing module file is a NESTBED IMAGE error} -body {
	catch {nestbed::machine create -image $image -modules [list [list payload $tmp/none]]} msg opts
	list [lrange [dict get $opts -errorcode] 0 1] $msg
} -result [list {NESTBED IMAGE} "module 'payload' '$tmp/none': no such file or directory"]

test machine-3.4 {more than 16 modules is a usage error} -body {
	tap::code { nestbed::machine create -image $image -modules [lrepeat 17 [list m $module]] }
} -result {NESTBED USAGE}

test machine-3.5 {a module name longer than 31 characters is a usage error} -body {
	tap::code { nestbed::machine create -image $image -modules [list [list [string repeat x 32] $module]] }
} -result {NESTBED USAGE}

test machine-3.6 {module arguments longer than 127 characters are a usage error} -body {
	tap::code { nestbed::machine create -image $image -modules [list [list m $module [string repeat a 128]]] }
} -result {NESTBED USAGE}

test machine-4.1 {a tree of guests is described with -guests} -body {
	set m [nestbed::machine create -image $image -guests [list \
		[list -image $image -options {exit=1} -guests [list [list -image $image -memory 16M]]] \
		[list -image $image -modules [list [list m $module]]]]]
	llength [$m cget -guests]
} -result 2 -cleanup { $m destroy }

test machine-4.2 {a guest without -image is a usage error} -body {
	catch {nestbed::machine create -image $image -guests {{-options x}}} msg opts
	list [lrange [dict get $opts -errorcode] 0 1] $msg
} -result {{NESTBED USAGE} {-guests: level-2 guest '-options x' has no -image}}

test machine-4.3 {a guest with an unknown option is a usage error} -body {
	catch {nestbed::machine create -image $image -guests [list [list -image $image -colour red]]} msg
	set msg
} -result {-guests: level-2 guest: bad guest option "-colour": must be -image, -memory, -options, -modules, -guests, or -ringsize}

test machine-4.4 {a guest given as an odd list is a usage error} -body {
	tap::code { nestbed::machine create -image $image -guests {{-image}} }
} -result {NESTBED USAGE}

test machine-4.5 {a missing guest image is a NESTBED IMAGE error} -body {
	tap::code { nestbed::machine create -image $image -guests [list [list -image $tmp/none.elf]] }
} -result {NESTBED IMAGE}

test machine-4.6 {a guest's bad memory size is a usage error} -body {
	tap::code { nestbed::machine create -image $image -guests [list [list -image $image -memory x]] }
} -result {NESTBED USAGE}

test machine-4.7 {a tree deeper than five levels is a depth error} -body {
	set guest [list -image $image]
	for {set level 6} {$level > 2} {incr level -1} {
		set guest [list -image $image -guests [list $guest]]
	}
	catch {nestbed::machine create -image $image -guests [list $guest]} msg opts
	list [lrange [dict get $opts -errorcode] 0 1] $msg
} -result {{NESTBED DEPTH} {-guests: a guest at level 6: nestbed stacks at most 5 levels}}

test machine-4.8 {a tree five levels deep passes the depth check: run maps it, down to its memory} -constraints nbvmm -body {
	set m [nestbed::machine create -memory 32M {*}[tap::chain 5 [list -image $image]]]
	tap::errorcode { $m run -timeout 1 }
} -result {NESTBED USAGE {::nestbed::machine*: the level-? guest gets what nbvmm at level ? leaves it of its * MiB: about 0 MiB, less than the 4 MiB a guest needs *: give the machine more -memory}} \
	-match glob -cleanup { $m destroy }

test machine-4.9 {a guest's memory must shrink with depth, at every level} -constraints nbvmm -body {
	set m [nestbed::machine create -memory 128M -guests [list [list -memory 64M -guests [list [list -image $image -memory 64M]]]]]
	tap::errorcode { $m run }
} -result {NESTBED USAGE {::nestbed::machine*: the level-3 guest's -memory 64M does not fit in its hypervisor at level 2: of its 64 MiB, after its trace ring, its image, the modules it carries and the 8 MiB nbvmm keeps for shadow page tables, about * MiB are left (memory shrinks with depth)}} \
	-match glob -cleanup { $m destroy }

test machine-4.10 {the nbvmm of NESTBED_IMAGE_PATH is the one capabilities name; it runs five levels} -body {
	file mkdir $tmp/vmm
	file copy -force $image $tmp/vmm/nbvmm.elf
	set env(NESTBED_IMAGE_PATH) $tmp/vmm
	set c [nestbed::capabilities]
	list [dict get $c max_depth] [string match "nestbed stacks at most 5 levels: nbvmm ($tmp/vmm/nbvmm.elf) runs nbvmm, *" \
		[dict get $c depth_limit]]
} -result {5 1} -cleanup { unset env(NESTBED_IMAGE_PATH) }

test machine-4.11 {a hypervisor node may leave -image out: cget gives it as given} -body {
	set m [nestbed::machine create -guests [list [list -image $image]]]
	list [$m cget -image] [llength [$m cget -guests]]
} -result {{} 1} -cleanup { $m destroy }

test machine-4.12 {-image nbvmm names the built hypervisor, not a file of that name} -body {
	set m [nestbed::machine create -image nbvmm -guests [list [list -image $image]]]
	$m cget -image
} -result nbvmm -cleanup { $m destroy }

test machine-4.13 {a level-2 guest that is a hypervisor may leave -image out too} -body {
	set m [nestbed::machine create -guests [list [list -guests [list [list -image $image]]]]]
	llength [$m cget -guests]
} -result 1 -cleanup { $m destroy }

test machine-4.14 {a hypervisor takes no modules of its own: they belong to its guest} -body {
	list [tap::errorcode { nestbed::machine create -modules [list [list m $module]] -guests [list [list -image $image]] }] \
		[tap::code { nestbed::machine create -guests [list [list -modules [list [list m $module]] -guests [list [list -image $image]]]] }]
} -result {{NESTBED USAGE {machine create: a hypervisor (a node with -guests) takes no -modules of its own: give them to its guest}} {NESTBED USAGE}}

test machine-4.15 {a guest's modules are checked, and one slot is kept for its image} -body {
	set m [nestbed::machine create -guests [list [list -image $image -modules [lrepeat 15 [list m $module]]]]]
	$m destroy
	catch {nestbed::machine create -guests [list [list -image $image -modules [lrepeat 16 [list m $module]]]]} msg opts
	list [lrange [dict get $opts -errorcode] 0 1] $msg
} -result {{NESTBED USAGE} {-modules: 16 modules, at most 15 (the hypervisor keeps one for the guest's image)}}

test machine-4.16 {a guest's memory is a whole number of MiB, its ring of KiB: what nbvmm's options carry} -body {
	set m [nestbed::machine create -guests [list [list -image $image -memory 32M -ringsize 64K]]]
	$m destroy
	list [tap::errorcode { nestbed::machine create -guests [list [list -image $image -memory 1000K]] }] \
		[tap::code { nestbed::machine create -guests [list [list -image $image -ringsize 1000]] }] \
		[tap::code { nestbed::machine create -guests [list [list -image $image -memory 0]] }]
} -result {{NESTBED USAGE {-guests: level-2 guest: -memory '1000K': its hypervisor gives it a whole, non-zero number of MiB}} {NESTBED USAGE} {NESTBED USAGE}}

test machine-4.17 {a guest's options are its image module's arguments: at most 127 characters} -body {
	tap::errorcode { nestbed::machine create -guests [list [list -image $image -options [string repeat x 128]]] }
} -result {NESTBED USAGE {-guests: level-2 guest: -options longer than 127 characters}}

test machine-4.18 {removing the guests of a machine without -image is refused, and changes nothing} -body {
	set m [nestbed::machine create -guests [list [list -image $image]]]
	list [tap::errorcode { $m configure -guests {} }] [llength [$m cget -guests]]
} -result {{NESTBED USAGE {::nestbed::machine* no image given (-image PATH)}} 1} -match glob -cleanup { $m destroy }

test machine-4.19 {two guests under one hypervisor: a usage error when the machine runs, before anything boots} -constraints nbvmm -body {
	set m [nestbed::machine create -guests [list [list -image $image] [list -image $image]]]
	tap::errorcode { $m run }
} -result [list NESTBED USAGE "::nestbed::machine*: level 1 has 2 guests, but nbvmm runs 1 guest per hypervisor"] \
	-match glob -cleanup { $m destroy }

test machine-4.20 {a guest's memory must leave room for nbvmm in the machine's} -constraints nbvmm -body {
	set m [nestbed::machine create -memory 64M -guests [list [list -image $image -memory 64M]]]
	tap::errorcode { $m run }
} -result {NESTBED USAGE {*: the level-2 guest's -memory 64M does not fit in its hypervisor at level 1: of its 64 MiB, after its trace ring, its image, the modules it carries and the 8 MiB nbvmm keeps for shadow page tables, about 5? MiB are left (memory shrinks with depth)}} \
	-match glob -cleanup { $m destroy }

test machine-4.21 {the guest's memory is said once: by its -memory or by mem= in nbvmm's options} -constraints nbvmm -body {
	set m [nestbed::machine create -options {mem=16} -guests [list [list -image $image -memory 32M]]]
	set a [tap::errorcode { $m run }]
	$m configure -options {ring=64} -guests [list [list -image $image -ringsize 128K]]
	list $a [tap::code { $m run }]
} -result {{NESTBED USAGE {*: both the level-2 guest's -memory and mem= in its hypervisor's -options give the guest's memory: give one}} {NESTBED USAGE}} \
	-match glob -cleanup { $m destroy }

tap::constraint novmm [expr {![tcltest::testConstraint nbvmm]}] "l1-vmm/nbvmm.elf is built"

test machine-4.22 {without nbvmm built, a depth-2 tree is a depth error saying so} -constraints novmm -body {
	set m [nestbed::machine create -guests [list [list -image $image]]]
	catch {$m run} msg opts
	list [lrange [dict get $opts -errorcode] 0 1] \
		[string match "$m: a machine tree 2 levels deep, but this build runs at most 1: depth 2 and deeper need the guest hypervisor nbvmm, which is not built*" $msg]
} -result {{NESTBED DEPTH} 1} -cleanup { $m destroy }

test machine-4.23 {more than one guest under a nested hypervisor: a usage error naming its level} -constraints nbvmm -body {
	set m [nestbed::machine create -guests [list [list -guests [list [list -image $image] [list -image $image]]]]]
	tap::errorcode { $m run }
} -result [list NESTBED USAGE "::nestbed::machine*: level 2 has 2 guests, but nbvmm runs 1 guest per hypervisor"] \
	-match glob -cleanup { $m destroy }

test machine-4.24 {a nested hypervisor's mem= and its guest's -memory: said twice} -constraints nbvmm -body {
	set m [nestbed::machine create -guests [list [list -options mem=16 -guests [list [list -image $image -memory 16M]]]]]
	tap::errorcode { $m run }
} -result {NESTBED USAGE {*: both the level-3 guest's -memory and mem= in its hypervisor's -options give the guest's memory: give one}} \
	-match glob -cleanup { $m destroy }

test machine-4.25 {mem= in a nested hypervisor's -options is the guest's memory, and must fit too} -constraints nbvmm -body {
	set m [nestbed::machine create -guests [list [list -options mem=60 -guests [list [list -image $image]]]]]
	tap::errorcode { $m run }
} -result {NESTBED USAGE {*: the level-3 guest's mem=60 in its hypervisor's -options does not fit in its hypervisor at level 2: of its * MiB*}} \
	-match glob -cleanup { $m destroy }

test machine-4.26 {a nested hypervisor's options with mem= and ring= added must fit a module's arguments} -constraints nbvmm -body {
	set m [nestbed::machine create -guests [list [list -options [string repeat x 120] \
		-guests [list [list -image $image -memory 16M -ringsize 64K]]]]]
	tap::errorcode { $m run }
} -result {NESTBED USAGE {*: the level-2 hypervisor's options with its guest's memory and ring, 'xxx* mem=16 ring=64', are longer than 127 characters (the arguments of its image's module)}} \
	-match glob -cleanup { $m destroy }

test machine-4.27 {the deeper a guest, the fewer modules of its own: each level above keeps one for its image} -body {
	set m [nestbed::machine create {*}[tap::chain 3 [list -image $image -modules [lrepeat 14 [list m $module]]]]]
	$m destroy
	tap::errorcode { nestbed::machine create {*}[tap::chain 3 [list -image $image -modules [lrepeat 15 [list m $module]]]] }
} -result {NESTBED USAGE {-modules: 15 modules, at most 14 (the hypervisors above keep 2 for the images of levels 2 to 3)}}

test machine-5.1 {cget returns each option as given, with defaults} -body {
	set m [nestbed::machine create -image $image -options {exit=3 print=2}]
	lmap o {-image -memory -options -modules -guests -ringsize -kvm} { $m cget $o }
} -result [list $image 64M {exit=3 print=2} {} {} 1M /dev/kvm] -cleanup { $m destroy }

test machine-5.2 {configure without arguments gives every option as a dict} -body {
	set m [nestbed::machine create -image $image]
	dict keys [$m configure]
} -result {-image -memory -options -modules -guests -ringsize -kvm} -cleanup { $m destroy }

test machine-5.3 {configure with one option gives its value} -body {
	set m [nestbed::machine create -image $image -memory 128M]
	$m configure -memory
} -result 128M -cleanup { $m destroy }

test machine-5.4 {configure changes options} -body {
	set m [nestbed::machine create -image $image]
	$m configure -memory 32M -options {exit=9}
	list [$m cget -memory] [$m cget -options]
} -result {32M exit=9} -cleanup { $m destroy }

test machine-5.5 {a failed configure changes nothing} -body {
	set m [nestbed::machine create -image $image -memory 32M]
	catch {$m configure -memory 48M -image $tmp/none.elf}
	$m cget -memory
} -result 32M -cleanup { $m destroy }

test machine-5.6 {cget of an unknown option is a usage error} -body {
	set m [nestbed::machine create -image $image]
	tap::code { $m cget -colour }
} -result {NESTBED USAGE} -cleanup { $m destroy }

test machine-5.7 {cget needs exactly one option} -body {
	set m [nestbed::machine create -image $image]
	catch {$m cget} msg opts
	list [lrange [dict get $opts -errorcode] 0 1] $msg
} -result [list {NESTBED USAGE} {wrong # args: should be "* cget option"}] -match glob -cleanup { $m destroy }

test machine-6.1 {an unknown subcommand is a usage error listing the subcommands} -body {
	set m [nestbed::machine create -image $image]
	catch {$m boot} msg opts
	list [lrange [dict get $opts -errorcode] 0 1] $msg
} -result {{NESTBED USAGE} {bad subcommand "boot": must be cget, configure, destroy, or run}} -cleanup { $m destroy }

test machine-6.2 {destroy removes the command} -body {
	set m [nestbed::machine create -image $image]
	$m destroy
	info commands $m
} -result {}

test machine-6.3 {destroy takes no arguments} -body {
	set m [nestbed::machine create -image $image]
	tap::code { $m destroy now }
} -result {NESTBED USAGE} -cleanup { $m destroy }

test machine-6.4 {renaming the command to nothing frees the machine} -body {
	set m [nestbed::machine create -image $image]
	rename $m {}
	info commands $m
} -result {}

test machine-6.5 {creating a machine under an existing machine's name replaces it} -body {
	nestbed::machine create m2 -image $image -memory 16M
	nestbed::machine create m2 -image $image -memory 32M
	m2 cget -memory
} -result 32M -cleanup { m2 destroy }

test machine-7.1 {run: an unknown option is a usage error} -body {
	set m [nestbed::machine create -image $image]
	catch {$m run -speed fast} msg opts
	list [lrange [dict get $opts -errorcode] 0 1] $msg
} -result {{NESTBED USAGE} {run: bad option "-speed": must be -console, -db, -timeout, or -tracing}} -cleanup { $m destroy }

test machine-7.2 {run: an option without its value is a usage error} -body {
	set m [nestbed::machine create -image $image]
	catch {$m run -timeout} msg opts
	list [lrange [dict get $opts -errorcode] 0 1] $msg
} -result {{NESTBED USAGE} {run: option -timeout needs a value}} -cleanup { $m destroy }

test machine-7.3 {run: a timeout that is not a number of seconds is a usage error} -body {
	set m [nestbed::machine create -image $image]
	list [tap::code { $m run -timeout soon }] [tap::code { $m run -timeout -1 }]
} -result {{NESTBED USAGE} {NESTBED USAGE}} -cleanup { $m destroy }

test machine-7.4 {run: -tracing must be a boolean} -body {
	set m [nestbed::machine create -image $image]
	tap::code { $m run -tracing maybe }
} -result {NESTBED USAGE} -cleanup { $m destroy }

test machine-7.5 {run: -console must be a command prefix} -body {
	set m [nestbed::machine create -image $image]
	tap::code { $m run -console "puts \{" }
} -result {NESTBED USAGE} -cleanup { $m destroy }

test machine-8.1 {nestbed::image finds a built guest} -constraints hello -body {
	nestbed::image hello
} -result $hello

test machine-8.2 {nestbed::image of an image that is not built is a NESTBED IMAGE error} -body {
	catch {nestbed::image no-such-guest} msg opts
	list [lrange [dict get $opts -errorcode] 0 1] [string match "image 'no-such-guest' is not built: looked for *" $msg]
} -result {{NESTBED IMAGE} 1}

test machine-8.3 {nestbed::image takes a name, not a path} -body {
	tap::code { nestbed::image guests/hello }
} -result {NESTBED USAGE}

test machine-8.4 {NESTBED_IMAGE_PATH is searched first} -body {
	file mkdir $tmp/images/hello
	file copy -force $image $tmp/images/hello/hello.elf
	set env(NESTBED_IMAGE_PATH) /nonexistent:$tmp/images
	nestbed::image hello
} -result $tmp/images/hello/hello.elf -cleanup { unset env(NESTBED_IMAGE_PATH) }

test machine-8.5 {capabilities say how deep this build runs, why not deeper, and how many guests per hypervisor} -body {
	set c [nestbed::capabilities]
	list [lsort [dict keys $c]] [dict get $c max_guests] [string match *nbvmm* [dict get $c depth_limit]]
} -result {{builddir depth_limit imagedir kvm max_depth max_guests schema_version version} 1 1}

test machine-8.6 {with nbvmm built, the build runs five levels: nbvmm runs nbvmm} -constraints nbvmm -body {
	set c [nestbed::capabilities]
	list [dict get $c max_depth] [string match "nestbed stacks at most 5 levels: nbvmm (*) runs nbvmm, one level each*" [dict get $c depth_limit]]
} -result {5 1}

test machine-8.7 {nestbed::image finds the built nbvmm} -constraints nbvmm -body {
	nestbed::image nbvmm
} -result [file join $tap::builddir l1-vmm nbvmm.elf]

tap::done
