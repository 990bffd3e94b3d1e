# tests/integration: build rules (included from integration/local.mk).
