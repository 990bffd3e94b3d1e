# bench: build rules for this folder (included by the top Makefile.am).
