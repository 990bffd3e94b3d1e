#!/bin/sh
# Boots the Multiboot test kernel the way `qemu -kernel` would and checks what it was given.
. "$NB_TOP_SRCDIR/tests/integration/tap.sh"
need_kvm
MB="$GUESTS/mbhello/mbhello.elf"
printf 'initrd-bytes' >"$TMP/initrd"

run_nestbed mb run "$MB" --db "$TMP/mb.db" --timeout 60 --memory 32M --options "console=ttyS0 quiet" \
	--module "initrd=$TMP/initrd,rootfs"
check_eq "the Multiboot kernel passes its checks and exits through port 0xf4 with (0 << 1) | 1" 1 "$status"
check_match "it was given the multiboot magic" '0x2[bB][aA][dD][bB]002' "$TMP/mb.out"
check_match "it sees its command line, image name first" 'mbhello.elf console=ttyS0 quiet' "$TMP/mb.out"
check_match "it sees mem_upper for 32 MiB" 'mem_upper.*31744' "$TMP/mb.out"
check_match "it sees the module string" 'initrd rootfs' "$TMP/mb.out"
check_eq "the run is stored as a guest exit" "1|1|guest-exit" \
	"$(sql "$TMP/mb.db" 'select completed, exit_status, stop_reason from runs')"
check_ge "its port I/O is recorded at level 0 with decoded 32-bit instructions" 10 \
	"$(sql "$TMP/mb.db" "select count(*) from events e join insns i using (insn_id) where e.rec_level = 0 and i.mnemonic = 'out'")"
run_nestbed kludge run "$GUESTS/mbhello/mbkludge.bin" --timeout 60 --memory 32M
check_eq "a Multiboot kernel with the a.out address kludge (flat binary) boots and passes" 1 "$status"
done_testing
