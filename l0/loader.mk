# l0: build rules (included from l0/local.mk).
