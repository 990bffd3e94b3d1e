/*
 * nb_file_read: whole files into memory, and messages that name the file and the reason.
 * Each test works in its own temporary directory.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include "l0/boot_loader.h"

struct file_test {
	char dir[64];
	char path[128];
	struct nb_error err;
	uint8_t *data;
	size_t len;
};

static int file_setup(void **state)
{
	struct file_test *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "%s", "/tmp/nb-file-test-XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	snprintf(t->path, sizeof(t->path), "%s/image", t->dir);
	*state = t;
	return 0;
}

static int file_teardown(void **state)
{
	struct file_test *t = *state;

	unlink(t->path);
	rmdir(t->dir);
	free(t->data);
	free(t);
	return 0;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void expect_read_error(struct file_test *t, const char *path, const char *what, int code,
			      const char *expected_msg)
{
	int rc = nb_file_read(path, what, &t->data, &t->len, &t->err);

	if (rc != -code)
		fail_msg("expected error %s, got %d (%s)\n", nb_error_name(code), rc, rc ? t->err.msg : "success");
	if (strcmp(t->err.msg, expected_msg) != 0)
		fail_msg("expected message \"%s\", got \"%s\"\n", expected_msg, t->err.msg);
}

static void test_file_read_returns_whole_file(void **state)
{
	struct file_test *t = *state;
	uint8_t bytes[10000];
	size_t i;

	for (i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)(i * 7);
	write_file(t->path, bytes, sizeof(bytes));
	assert_int_equal(nb_file_read(t->path, "guest image", &t->data, &t->len, &t->err), 0);
	if (t->len != sizeof(bytes))
		fail_msg("length: expected %zu, got %zu\n", sizeof(bytes), t->len);
	if (memcmp(t->data, bytes, sizeof(bytes)) != 0)
		fail_msg("content: expected the bytes written, got different ones\n");
}

static void test_file_read_missing_file_names_path_and_reason(void **state)
{
	struct file_test *t = *state;
	char expected[256];

	snprintf(expected, sizeof(expected), "guest image '%s': No such file or directory", t->path);
	expect_read_error(t, t->path, "guest image", NB_E_IMAGE, expected);
}

static void test_file_read_names_the_module_in_messages(void **state)
{
	struct file_test *t = *state;
	char expected[256];

	snprintf(expected, sizeof(expected), "module 'initrd' '%s': No such file or directory", t->path);
	expect_read_error(t, t->path, "module 'initrd'", NB_E_IMAGE, expected);
}

static void test_file_read_rejects_directory(void **state)
{
	struct file_test *t = *state;
	char expected[256];

	snprintf(expected, sizeof(expected), "guest image '%s': Is a directory", t->dir);
	expect_read_error(t, t->dir, "guest image", NB_E_IMAGE, expected);
}

static void test_file_read_rejects_empty_file(void **state)
{
	struct file_test *t = *state;
	char expected[256];

	write_file(t->path, "", 0);
	snprintf(expected, sizeof(expected), "guest image '%s': the file is empty", t->path);
	expect_read_error(t, t->path, "guest image", NB_E_IMAGE, expected);
}

static void test_file_read_rejects_file_over_1gib(void **state)
{
	struct file_test *t = *state;
	char expected[256];
	int fd = open(t->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (1ll << 30) + 1), 0); /* sparse: costs no disk */
	close(fd);
	snprintf(expected, sizeof(expected), "guest image '%s': larger than the 1024 MiB limit", t->path);
	expect_read_error(t, t->path, "guest image", NB_E_IMAGE, expected);
}

static void test_file_read_reads_a_pipe_to_its_end(void **state)
{
	struct file_test *t = *state;
	uint8_t bytes[20000]; /* fits the 64 KiB pipe buffer; more than the first read buffer */
	char path[64];
	int fds[2];

	memset(bytes, 0x5c, sizeof(bytes));
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], bytes, sizeof(bytes)), sizeof(bytes));
	close(fds[1]);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[0]);
	assert_int_equal(nb_file_read(path, "module 'gen'", &t->data, &t->len, &t->err), 0);
	close(fds[0]);
	if (t->len != sizeof(bytes) || memcmp(t->data, bytes, sizeof(bytes)) != 0)
		fail_msg("expected the %zu bytes written to the pipe, got %zu bytes\n", sizeof(bytes), t->len);
}

static void test_file_read_without_path_is_a_usage_error(void **state)
{
	struct file_test *t = *state;

	expect_read_error(t, NULL, "guest image", NB_E_USAGE, "guest image: no file name given");
}

#define T(f) cmocka_unit_test_setup_teardown(f, file_setup, file_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_file_read_returns_whole_file),
		T(test_file_read_missing_file_names_path_and_reason),
		T(test_file_read_names_the_module_in_messages),
		T(test_file_read_rejects_directory),
		T(test_file_read_rejects_empty_file),
		T(test_file_read_rejects_file_over_1gib),
		T(test_file_read_reads_a_pipe_to_its_end),
		T(test_file_read_without_path_is_a_usage_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
