# Integration tests: real VMs on /dev/kvm (skipped, saying why, when it is absent). The longest
# come first, so that under make -j they start early and the others fill the other slots.
TESTS += tests/integration/svmtest.sh tests/integration/depth5.sh tests/integration/depth3.sh \
	tests/integration/cli_errors.sh tests/integration/run_hello.sh tests/integration/run_multiboot.sh \
	tests/integration/misbehave.sh tests/integration/crash_safety.sh \
	tests/integration/depth2.sh tests/integration/hostile.sh tests/integration/fidelity.sh \
	tests/integration/probes.sh tests/integration/report.sh tests/integration/replay.sh
EXTRA_DIST += tests/integration/tap.sh $(filter tests/integration/%.sh,$(TESTS))
