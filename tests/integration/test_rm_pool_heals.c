/* Integration: the read-model pool heals when MongoDB comes back. Its writer threads open their
 * connection at start; a thread that could not (the store down) must try again with the tasks it
 * takes, not fail them for as long as the process runs.
 *
 * "Down, then up" without touching the shared FerretDB: the pool talks to a TCP forwarder run
 * here, on a free loopback port, which first accepts and closes every connection and then relays
 * them to the configured MongoDB. Needs `make up`. Uses its own database, dropped at the end. */
#include "ll_clock.h"
#include "ll_config.h"
#include "ll_read_model.h"
#include "ll_rm_pool.h"
#include "ll_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <mongoc/mongoc.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

extern char **environ;

#define DB             "ledgerline_test_rm_pool_heals"
#define THREADS        2
#define HEAL_ROUNDS    60  /* rounds of THREADS tasks tried once the store is up ... */
#define ROUND_PAUSE_MS 250 /* ... this far apart: libmongoc waits out a 5 s cooldown after a failure */
#define RELAYS_MAX     32

/* ---- a TCP forwarder that can be "down" ----------------------------------------------------- */

typedef struct {
    int listen_fd;
    int port;
    char target_host[256];
    int target_port;
    atomic_int up;   /* 0: accept and close at once; 1: relay to the target */
    atomic_int quit; /* every thread returns within a poll interval */
    pthread_t acceptor;
    pthread_t relays[RELAYS_MAX];
    int relay_fds[RELAYS_MAX][2];
    int n_relays; /* touched by the acceptor only, read after it was joined */
} forwarder_t;

typedef struct {
    forwarder_t *f;
    int a, b;
} relay_arg_t;

static relay_arg_t relay_args[RELAYS_MAX];

static int send_all(int fd, const char *buf, ssize_t n) {
    while (n > 0) {
        ssize_t w = send(fd, buf, (size_t)n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        buf += w, n -= w;
    }
    return 0;
}

/* Copies bytes both ways until either side closes or the forwarder quits. */
static void *relay_main(void *arg) {
    relay_arg_t *r = arg;
    char buf[16384];
    while (!atomic_load(&r->f->quit)) {
        struct pollfd fds[2] = {{r->a, POLLIN, 0}, {r->b, POLLIN, 0}};
        int n = poll(fds, 2, 100);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        int closed = 0;
        for (int i = 0; i < 2 && !closed; i++) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t got = recv(fds[i].fd, buf, sizeof buf, 0);
            if (got <= 0 || send_all(fds[1 - i].fd, buf, got) != 0) closed = 1;
        }
        if (closed) break;
    }
    shutdown(r->a, SHUT_RDWR);
    shutdown(r->b, SHUT_RDWR);
    return NULL;
}

static int connect_target(const forwarder_t *f) {
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)f->target_port);
    if (inet_pton(AF_INET, f->target_host, &sa.sin_addr) != 1) return -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void *acceptor_main(void *arg) {
    forwarder_t *f = arg;
    while (!atomic_load(&f->quit)) {
        struct pollfd pfd = {f->listen_fd, POLLIN, 0};
        if (poll(&pfd, 1, 50) <= 0) continue;
        int c = accept(f->listen_fd, NULL, NULL);
        if (c < 0) continue;
        int t = -1;
        if (!atomic_load(&f->up) || f->n_relays == RELAYS_MAX || (t = connect_target(f)) < 0) {
            close(c); /* down: the client sees its connection closed during the handshake */
            continue;
        }
        int i = f->n_relays;
        relay_args[i] = (relay_arg_t){f, c, t};
        if (pthread_create(&f->relays[i], NULL, relay_main, &relay_args[i]) != 0) {
            close(c);
            close(t);
            continue;
        }
        f->relay_fds[i][0] = c, f->relay_fds[i][1] = t;
        f->n_relays++;
    }
    return NULL;
}

static int forwarder_start(forwarder_t *f, const char *host, int port) {
    memset(f, 0, sizeof *f);
    snprintf(f->target_host, sizeof f->target_host, "%s", host);
    f->target_port = port;
    struct sockaddr_in sa = {0};
    socklen_t len = sizeof sa;
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0; /* a free port */
    if ((f->listen_fd = socket(AF_INET, SOCK_STREAM, 0)) < 0) return -1;
    if (bind(f->listen_fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(f->listen_fd, 16) != 0 ||
        getsockname(f->listen_fd, (struct sockaddr *)&sa, &len) != 0) {
        close(f->listen_fd);
        return -1;
    }
    f->port = ntohs(sa.sin_port);
    if (pthread_create(&f->acceptor, NULL, acceptor_main, f) != 0) {
        close(f->listen_fd);
        return -1;
    }
    return 0;
}

static void forwarder_stop(forwarder_t *f) {
    atomic_store(&f->quit, 1);
    pthread_join(f->acceptor, NULL);
    for (int i = 0; i < f->n_relays; i++) {
        pthread_join(f->relays[i], NULL);
        close(f->relay_fds[i][0]);
        close(f->relay_fds[i][1]);
    }
    close(f->listen_fd);
}

/* ---- the pool ------------------------------------------------------------------------------ */

typedef struct {
    atomic_int runs;
    pthread_t ran_on[THREADS];
} round_t;

typedef struct {
    round_t *round;
    int slot;
} task_arg_t;

/* A read round trip on the thread's read model (a missing account: nothing to find). */
static int read_task(ll_read_model_t *rm, void *arg, ll_error_t *err) {
    task_arg_t *a = arg;
    ll_uuid_t id;
    memset(&id, 0, sizeof id);
    id.bytes[6] = 0x40, id.bytes[8] = 0x80, id.bytes[15] = 7;
    ll_account_t acc;
    bool found = true;
    int rc = ll_read_model_load_account(rm, &id, &acc, &found, err);
    if (rc != 0) return rc;
    if (found) return ll_error_set(err, LL_EIO, "a missing account was found");
    a->round->ran_on[a->slot] = pthread_self();
    atomic_fetch_add(&a->round->runs, 1);
    ll_sleep_ms(100); /* busy a while: the round's other task goes to the other thread */
    return 0;
}

/* Submits THREADS tasks and waits for them. Returns 0 when every one ran and succeeded, else the
 * error (err set). */
static int run_round(ll_rm_pool_t *pool, round_t *round, ll_error_t *err) {
    static task_arg_t args[THREADS];
    memset(round, 0, sizeof *round);
    int rc = 0;
    for (int i = 0; i < THREADS && rc == 0; i++) {
        args[i] = (task_arg_t){round, i};
        rc = ll_rm_pool_submit(pool, read_task, &args[i], NULL, err);
    }
    ll_error_t werr = {""};
    int w = ll_rm_pool_wait(pool, &werr); /* clears the pool's error either way */
    if (rc == 0 && w != 0) rc = w, *err = werr;
    if (rc == 0 && atomic_load(&round->runs) != THREADS)
        rc = ll_error_set(err, LL_EIO, "%d of %d tasks ran", atomic_load(&round->runs), THREADS);
    return rc;
}

static ll_config_t cfg;
static char target_host[256];
static int target_port;

LL_TEST(test_a_pool_started_while_the_store_is_down_heals_when_it_comes_back) {
    forwarder_t fwd;
    LL_REQUIRE(forwarder_start(&fwd, target_host, target_port) == 0);
    char uri[256];
    /* Short timeouts: a store that is down fails a task in about a second, never hangs it. */
    snprintf(
        uri, sizeof uri,
        "mongodb://127.0.0.1:%d/?serverSelectionTimeoutMS=1000&connectTimeoutMS=1000&socketTimeoutMS=5000",
        fwd.port);
    ll_error_t err = {""};
    ll_rm_pool_t *pool = ll_rm_pool_start(uri, DB, 1, THREADS, &err);
    if (pool == NULL) {
        LL_FAIL_AT("pool: %s", err.msg);
        forwarder_stop(&fwd);
        return;
    }
    round_t round;

    /* Down: the start-up failure is reported, then a task fails with an error of its own. */
    long long t0 = ll_clock_ms();
    ll_error_t start_err = {""};
    (void)ll_rm_pool_wait(pool, &start_err); /* the threads' start-up error, if reported yet */
    int rc = run_round(pool, &round, &err);
    long long down_ms = ll_clock_ms() - t0;
    LL_CHECK(rc != 0);
    LL_CHECK(err.msg[0] != '\0');
    LL_CHECK_EQ_INT(atomic_load(&round.runs), 0);
    LL_CHECK(down_ms < 15000);
    printf("  (store down: \"%s\" after %lld ms)\n", err.msg, down_ms);

    /* Up: within a bounded number of rounds every thread opens and runs its task. */
    atomic_store(&fwd.up, 1);
    int healed_at = 0;
    for (int r = 1; r <= HEAL_ROUNDS && !healed_at; r++) {
        ll_error_clear(&err);
        if (run_round(pool, &round, &err) == 0 && !pthread_equal(round.ran_on[0], round.ran_on[1]))
            healed_at = r;
        else
            ll_sleep_ms(ROUND_PAUSE_MS);
    }
    if (!healed_at)
        LL_FAIL_AT("still failing after %d rounds: %s", HEAL_ROUNDS, err.msg);
    else
        printf("  (healed at round %d)\n", healed_at);

    /* And it stays healed. */
    if (healed_at) {
        ll_error_clear(&err);
        rc = run_round(pool, &round, &err);
        if (rc != 0) LL_FAIL_AT("after healing: %s", err.msg);
    }
    ll_rm_pool_stop(pool);
    forwarder_stop(&fwd);
}

/* The configured MongoDB's first host, where the forwarder relays to. */
static int target_of(const char *mongo_uri) {
    mongoc_uri_t *u = mongoc_uri_new_with_error(mongo_uri, NULL);
    const mongoc_host_list_t *h = u != NULL ? mongoc_uri_get_hosts(u) : NULL;
    int ok = h != NULL && h->family != AF_UNIX;
    if (ok) {
        snprintf(target_host, sizeof target_host, "%s",
                 strcmp(h->host, "localhost") == 0 ? "127.0.0.1" : h->host);
        target_port = h->port;
    }
    mongoc_uri_destroy(u);
    return ok ? 0 : -1;
}

static void drop_database(void) {
    mongoc_client_t *client = mongoc_client_new(cfg.mongo_uri);
    if (client == NULL) return;
    mongoc_database_t *db = mongoc_client_get_database(client, DB);
    mongoc_database_drop(db, NULL); /* absent is fine */
    mongoc_database_destroy(db);
    mongoc_client_destroy(client);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_a_pool_started_while_the_store_is_down_heals_when_it_comes_back),
    };
    ll_error_t err = {""};
    mongoc_init();
    if (ll_config_load(&cfg, NULL, environ, &err) != 0 || target_of(cfg.mongo_uri) != 0) {
        fprintf(stderr, "config: %s\n", err.msg[0] ? err.msg : "mongo_uri names no TCP host");
        printf("rm_pool_heals: 0 passed, 1 failed\n");
        mongoc_cleanup();
        return 1;
    }
    drop_database();
    int rc = ll_test_main(argc, argv, "rm_pool_heals", cases, LL_CASES(cases));
    drop_database();
    mongoc_cleanup();
    return rc;
}
