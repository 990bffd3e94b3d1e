# l1-vmm: build rules for this folder (included by the top Makefile.am).
