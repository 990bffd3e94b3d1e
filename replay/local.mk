# replay: re-executing a recorded run's shadow-paging events through shadow/ (the replayer and
# the what-if simulation), and reading them out of a trace database. Linked into the nestbed
# program (nestbed replay); the engine alone (no SQLite) into its unit tests.
noinst_LTLIBRARIES += replay/libnbreplay.la
replay_libnbreplay_la_SOURCES = replay/rmap.c replay/rmap.h replay/host_pages.c replay/host_pages.h replay/replay.c replay/replay.h \
	replay/whatif.c replay/whatif.h replay/replay_db.c replay/replay_db.h
replay_libnbreplay_la_CFLAGS = $(AM_CFLAGS) $(SQLITE_CFLAGS)
replay_libnbreplay_la_LIBADD = shadow/libnbshadow.la $(SQLITE_LIBS)
