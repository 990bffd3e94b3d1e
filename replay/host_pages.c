#include <stdlib.h>
#include <string.h>

#include "replay/host_pages.h"
#include "shadow/shadow_ops.h"

void *replay_alloc_page(void *opaque, uint64_t *hpa)
{
	void *p = aligned_alloc(SHADOW_PAGE_SIZE, SHADOW_PAGE_SIZE);

	(void)opaque;
	if (p)
		memset(p, 0, SHADOW_PAGE_SIZE);
	*hpa = (uint64_t)(uintptr_t)p;
	return p;
}

void replay_free_page(void *opaque, void *page, uint64_t hpa)
{
	(void)opaque, (void)hpa;
	free(page);
}

int replay_identity_gpa_to_hpa(void *opaque, uint64_t gpa, uint64_t *hpa)
{
	(void)opaque;
	*hpa = gpa & ~0xfffull;
	return 0;
}

int replay_no_read(void *opaque, uint64_t gpa, void *buf, unsigned len)
{
	(void)opaque, (void)gpa, (void)buf, (void)len;
	return -SHADOW_EFAULT;
}

int replay_no_write(void *opaque, uint64_t gpa, const void *buf, unsigned len)
{
	(void)opaque, (void)gpa, (void)buf, (void)len;
	return -SHADOW_EFAULT;
}

void replay_gpt_mode(struct gpt_mode *m, enum gpt_paging paging, uint64_t cr3)
{
	memset(m, 0, sizeof(*m));
	m->paging = paging;
	m->cr3 = cr3;
	m->cr0_wp = false;
	m->efer_nxe = true;
	m->maxphyaddr = 52;
}
