/* ll_rebuild.h - ledgerline-rebuild's state and its phases, one file each: the sources of the
 * build (ll_rebuild_store.c, ll_rebuild_kafka.c), the fold (ll_rebuild_build.c), the verification
 * (ll_rebuild_verify.c), what those two find (ll_rebuild_findings.c), the catch-up
 * (ll_rebuild_catch_up.c), the switch and its report (ll_rebuild_run.c), gc (ll_rebuild_gc.c) and
 * the command line (rebuild_main.c). The files call downwards only: main -> run -> the phases ->
 * findings, store, accounts; the catch-up takes the topic's watermarks from ll_rebuild_kafka.c. */
#ifndef LL_REBUILD_H
#define LL_REBUILD_H

#include "ll_config.h"
#include "ll_error.h"
#include "ll_event.h"
#include "ll_event_reader.h"
#include "ll_pg.h"
#include "ll_read_model.h"
#include "ll_read_model_writes.h"
#include "ll_rebuild_accounts.h"
#include "ll_rm_builder.h"
#include "ll_table.h"

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#define EXIT_REFUSED 1 /* verification failed: not switched */
#define EXIT_USAGE   2 /* bad arguments, configuration, connection */

#define REBUILD_LOCK_KEY         "7301944"
#define DIFFERENCES_SHOWN        50
#define LL_RESUME_PARTITIONS_MAX 1024

typedef struct {
    const char *from; /* "kafka" or "store" */
    const char *account;
    int64_t to_position;
    int dry_run, gc, json;
    int grace_s, settle_s;
    int writers; /* threads inserting the build's transactions */
} options_t;

typedef struct rebuild {
    const options_t *o;
    const ll_config_t *cfg;
    PGconn *pg;
    ll_event_reader_t *store; /* reads on pg */
    ll_rm_client_t *mongo;
    ll_read_model_t *rm;      /* the new generation */
    ll_rm_builder_t *builder; /* during the build: its writes */
    ll_rm_writes_t *writes;   /* the catch-up's */
    int64_t from_gen, to_gen, position;
    int64_t snapshot_us;  /* wall time the store snapshot was taken */
    ll_uuid_t account_id; /* --account, parsed */
    ll_uuid_map_t built;  /* what the build folded */
    int have_current;     /* store source: the account whose events stream now */
    ll_uuid_t current;
    size_t docs[3]; /* documents the build wrote: events, pages, accounts */
    int64_t events, duplicates, caught_up;
    ll_table_t *diffs;
    long n_diffs;
    void *diffs_ctx;   /* the verification in progress */
    ll_uuid_t *behind; /* accounts the store has more of (topic source): caught up first */
    size_t n_behind, cap_behind;
    rd_kafka_t *watermarks_rk; /* reads the topic's high watermarks (where projectors resume) */
    int64_t resume[LL_RESUME_PARTITIONS_MAX];
    int n_resume;
} rebuild_t;

/* Prints "ledgerline-rebuild: MESSAGE" to stderr and returns code. */
int rebuild_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- findings (ll_rebuild_findings.c) ---- */
/* A finding: listed (the first DIFFERENCES_SHOWN) and counted; any refuses the switch. */
void rebuild_difference(rebuild_t *r, const ll_uuid_t *id, const char *what, const char *read_model,
                        const char *store);

/* Notes an account the store has more of than the generation: the catch-up's first. */
int rebuild_note_behind(rebuild_t *r, const ll_uuid_t *id);

/* The differences found (the first DIFFERENCES_SHOWN) to stderr, as text or JSON (--json). */
void rebuild_print_differences(const rebuild_t *r);

/* ---- the build (ll_rebuild_build.c) ---- */
int rebuild_build_event(rebuild_t *r, const ll_event_t *ev, ll_error_t *err);
/* The store source's row handler (rebuild_store_stream). */
int rebuild_build_row(rebuild_t *r, const char *account, const char *text, size_t len, ll_error_t *err);
int rebuild_build_finish_accounts(rebuild_t *r, ll_error_t *err);

/* ---- the store (ll_rebuild_store.c; the catch-up reads it too) ---- */
typedef int (*rebuild_row_fn)(rebuild_t *r, const char *account, const char *envelope, size_t len,
                              ll_error_t *err);
/* Opens the store snapshot every later read of the build and the verification shares, and
 * sets r->position. */
int rebuild_store_snapshot(rebuild_t *r, ll_error_t *err);
/* Streams the snapshot's events (up to the position, of the account if given) in account and
 * version order: row() per event. */
int rebuild_store_stream(rebuild_t *r, const char *phase, rebuild_row_fn row, ll_error_t *err);

/* ---- the topic (ll_rebuild_kafka.c) ---- */
/* Builds from the topic: offset 0 up to the high watermarks seen at the start, every partition. */
int rebuild_build_from_kafka(rebuild_t *r, ll_error_t *err);
/* Reads the topic's high watermarks into r->resume: every event committed from now on is
 * published at or after them. Returns 0 or LL_EIO. */
int rebuild_read_resume(rebuild_t *r, ll_error_t *err);

/* ---- verification, catch-up, gc ---- */
/* What MongoDB holds against an independent replay of the store; differences are findings. */
int rebuild_verify(rebuild_t *r, ll_error_t *err);
/* See ll_rebuild_catch_up.c: until_ms 0 before the switch, else the settle phase's end. */
int rebuild_catch_up(rebuild_t *r, const char *phase, int64_t until_ms, ll_error_t *err);
int rebuild_gc(rebuild_t *r, ll_error_t *err);

/* Build, verify, catch up, switch and settle (or, dry or partial, drop). Returns the exit status. */
int rebuild_run(rebuild_t *r, ll_error_t *err);

#endif
