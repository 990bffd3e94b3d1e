# tests/unit: build rules (included from unit/local.mk).
