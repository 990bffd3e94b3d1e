/*
 * nb_file_read: a whole image or module into memory, with messages that name the file.
 * Read until end of file rather than trusting st_size alone, so that pipes and process
 * substitutions (`--module x=<(gen)`) work and a file that changes while being read cannot
 * overrun the buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "l0/boot_loader.h"

/* Guest memory is at most 4 GiB and a test bed's kernels and modules are small; a larger file is
 * almost certainly the wrong file, and reading it would only exhaust host memory. */
#define NB_FILE_MAX (1ull << 30)

static int file_fail_errno(struct nb_error *err, const char *what, const char *path, int errnum)
{
	return nb_error_set(err, NB_E_IMAGE, "%s '%s': %s", what, path, strerror(errnum));
}

static int file_too_large(struct nb_error *err, const char *what, const char *path)
{
	return nb_error_set(err, NB_E_IMAGE, "%s '%s': larger than the %llu MiB limit", what, path,
			    NB_FILE_MAX >> 20);
}

static int file_read_fd(int fd, const char *what, const char *path, size_t size_hint, uint8_t **data,
			size_t *len, struct nb_error *err)
{
	size_t cap = size_hint > 4096 ? size_hint : 4096, used = 0;
	uint8_t *buf = malloc(cap), *bigger;
	ssize_t n;
	int rc;

	for (;;) {
		if (!buf)
			return nb_error_set(err, NB_E_NOMEM, "%s '%s': out of host memory reading it", what, path);
		if (used == cap) {
			/* cap stops at one byte past the limit: enough to tell the file is too large. */
			if (cap > NB_FILE_MAX) {
				rc = file_too_large(err, what, path);
				goto fail;
			}
			cap = cap * 2 > NB_FILE_MAX + 1 ? NB_FILE_MAX + 1 : cap * 2;
			bigger = realloc(buf, cap);
			if (!bigger) {
				rc = nb_error_set(err, NB_E_NOMEM, "%s '%s': out of host memory reading it", what,
						  path);
				goto fail;
			}
			buf = bigger;
		}
		n = read(fd, buf + used, cap - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = file_fail_errno(err, what, path, errno);
			goto fail;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	if (used == 0) {
		rc = nb_error_set(err, NB_E_IMAGE, "%s '%s': the file is empty", what, path);
		goto fail;
	}
	*data = buf;
	*len = used;
	return 0;
fail:
	free(buf);
	return rc;
}

int nb_file_read(const char *path, const char *what, uint8_t **data, size_t *len, struct nb_error *err)
{
	struct stat st;
	int fd, rc;

	if (!what)
		what = "file";
	if (!path || !path[0])
		return nb_error_set(err, NB_E_USAGE, "%s: no file name given", what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return file_fail_errno(err, what, path, errno);
	if (fstat(fd, &st) < 0) {
		rc = file_fail_errno(err, what, path, errno);
	} else if (S_ISDIR(st.st_mode)) {
		rc = file_fail_errno(err, what, path, EISDIR);
	} else if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > NB_FILE_MAX) {
		rc = file_too_large(err, what, path);
	} else {
		/* st_size + 1 so that reaching end of file needs no second buffer. */
		rc = file_read_fd(fd, what, path, S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 0, data,
				  len, err);
	}
	close(fd);
	return rc;
}
