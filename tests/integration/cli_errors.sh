#!/bin/sh
# Bad input to the nestbed program: each case gives one clear message on stderr and a non-zero
# status, and nothing is left half-done.
. "$NB_TOP_SRCDIR/tests/integration/tap.sh"
HELLO="$GUESTS/hello/hello.elf"

# expect_error NAME STATUS PATTERN ARGS...: exit status, exactly one stderr line, matching PATTERN
expect_error() {
	name=$1 want=$2 pattern=$3; shift 3
	run_nestbed err run "$@"
	lines=$(wc -l <"$TMP/err.err")
	if [ "$status" = "$want" ] && [ "$lines" -eq 1 ] && grep -Eq -- "$pattern" "$TMP/err.err"; then
		ok "$name"
	else
		not_ok "$name" "expected status $want and one line matching: $pattern" \
			"got status $status and $lines lines:" "$(cat "$TMP/err.err")"
	fi
}

expect_error "a missing KVM device is named" 125 "KVM device '/nonexistent/kvm': not found" "$HELLO" --kvm /nonexistent/kvm
expect_error "a device that is not KVM is refused" 125 "KVM device '/dev/null': not a KVM device" "$HELLO" --kvm /dev/null
expect_error "a missing image is named" 125 "guest image '$TMP/nope.elf': No such file or directory" "$TMP/nope.elf"
head -c 4096 /dev/urandom >"$TMP/garbage.elf"
expect_error "a malformed image is refused with the reason" 125 "guest image '$TMP/garbage.elf': .*(not|no) " "$TMP/garbage.elf"
head -c 40 "$HELLO" >"$TMP/truncated.elf"
expect_error "a truncated ELF is refused" 125 "guest image '$TMP/truncated.elf': .*truncated" "$TMP/truncated.elf"
expect_error "a module spec without a path is refused" 2 "module 'initrd': expected name=path" "$HELLO" --module initrd
expect_error "a missing module file is named" 125 "module 'x'.*No such file" "$HELLO" --module "x=$TMP/none"
mkdir -p "$TMP/dir"
expect_error "a directory as image is refused" 125 "guest image '$TMP/dir': .*directory" "$TMP/dir"
expect_error "an unwritable database path is named" 125 "trace database '/proc/nestbed.db'" "$HELLO" --db /proc/nestbed.db
expect_error "a database under a missing folder is named" 125 "trace database '$TMP/missing/t.db'" "$HELLO" --db "$TMP/missing/t.db"
expect_error "a bad memory size is refused" 2 "--memory 'lots': not a size" "$HELLO" --memory lots
expect_error "too little memory is refused" 2 "guest memory of 1048576 bytes: must be between" "$HELLO" --memory 1M
expect_error "an unknown option is refused" 2 "unknown option '--frobnicate'" "$HELLO" --frobnicate
expect_error "a bad timeout is refused" 2 "--timeout 'soon'" "$HELLO" --timeout soon
expect_error "no image at all is refused" 2 "no guest image given"
if [ -e "$TMP/missing/t.db" ]; then not_ok "no database file is left behind by a failed set-up"; else ok "no database file is left behind by a failed set-up"; fi
done_testing
