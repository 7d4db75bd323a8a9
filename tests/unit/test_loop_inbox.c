/* Unit tests of lib/ll_loop_inbox: messages posted from other threads are handed to deliver()
 * on the loop thread, every one once; closing an inbox never opened is fine. */
#include "ll_loop_inbox.h"
#include "ll_test.h"

#include <pthread.h>
#include <stdlib.h>

#define POSTERS 4
#define PER_POSTER 500

typedef struct {
    h2o_multithread_message_t msg;
    int id;
} letter_t;

typedef struct {
    ll_loop_inbox_t *in;
    letter_t *letters; /* PER_POSTER of them */
} poster_t;

typedef struct {
    pthread_t loop_thread;
    int delivered, seen[POSTERS * PER_POSTER], wrong_thread;
} box_t;

static void deliver(h2o_multithread_message_t *msg, void *ctx) {
    box_t *b = ctx;
    letter_t *l = H2O_STRUCT_FROM_MEMBER(letter_t, msg, msg);
    if (!pthread_equal(pthread_self(), b->loop_thread)) b->wrong_thread++;
    b->seen[l->id]++;
    b->delivered++;
}

static void *post_all(void *arg) {
    poster_t *p = arg;
    for (int i = 0; i < PER_POSTER; i++) ll_loop_inbox_post(p->in, &p->letters[i].msg);
    return NULL;
}

/* Never destroyed nor run after the close, as in the services: h2o 2.2's
 * h2o_multithread_destroy_queue does not free the queue, which stays reachable from its socket
 * only until the loop disposes of that. */
static h2o_evloop_t *loop, *idle_loop;

LL_TEST(test_every_message_reaches_the_loop_once) {
    loop = h2o_evloop_create();
    box_t *b = calloc(1, sizeof *b);
    letter_t *letters = calloc(POSTERS * PER_POSTER, sizeof *letters);
    LL_REQUIRE(b != NULL && letters != NULL);
    b->loop_thread = pthread_self();
    for (int i = 0; i < POSTERS * PER_POSTER; i++) letters[i].id = i;
    ll_loop_inbox_t in = {0};
    ll_loop_inbox_open(&in, loop, deliver, b);
    pthread_t threads[POSTERS];
    poster_t posters[POSTERS];
    for (int i = 0; i < POSTERS; i++) {
        posters[i] = (poster_t){&in, letters + i * PER_POSTER};
        LL_REQUIRE(pthread_create(&threads[i], NULL, post_all, &posters[i]) == 0);
    }
    for (int i = 0; i < POSTERS; i++) pthread_join(threads[i], NULL);
    for (int turns = 0; turns < 1000 && b->delivered < POSTERS * PER_POSTER; turns++) h2o_evloop_run(loop, 10);
    LL_CHECK_EQ_INT(b->delivered, POSTERS * PER_POSTER);
    LL_CHECK_EQ_INT(b->wrong_thread, 0);
    int once = 1;
    for (int i = 0; i < POSTERS * PER_POSTER; i++) once &= b->seen[i] == 1;
    LL_CHECK(once);
    ll_loop_inbox_close(&in);
    LL_CHECK(in.queue == NULL);
    ll_loop_inbox_close(&in); /* twice: nothing */
    free(letters);
    free(b);
}

/* A stop finishes work after the loop stopped turning: the close drops its answers (h2o would
 * abort on a receiver left with messages queued) and delivers none. */
LL_TEST(test_close_drops_what_the_loop_did_not_take) {
    idle_loop = h2o_evloop_create(); /* never run, never destroyed (see loop above) */
    box_t *b = calloc(1, sizeof *b);
    letter_t *letters = calloc(PER_POSTER, sizeof *letters);
    LL_REQUIRE(b != NULL && letters != NULL);
    b->loop_thread = pthread_self();
    for (int i = 0; i < PER_POSTER; i++) letters[i].id = i;
    ll_loop_inbox_t in = {0};
    ll_loop_inbox_open(&in, idle_loop, deliver, b);
    poster_t poster = {&in, letters};
    pthread_t thread;
    LL_REQUIRE(pthread_create(&thread, NULL, post_all, &poster) == 0);
    pthread_join(thread, NULL);
    ll_loop_inbox_close(&in);
    LL_CHECK_EQ_INT(b->delivered, 0);
    LL_CHECK(in.queue == NULL);
    free(letters);
    free(b);
}

LL_TEST(test_close_of_an_inbox_never_opened) {
    ll_loop_inbox_t in = {0};
    ll_loop_inbox_close(&in);
    LL_CHECK(in.queue == NULL);
}

int main(int argc, char **argv) {
    static const ll_test_case_t cases[] = {
        LL_CASE(test_every_message_reaches_the_loop_once),
        LL_CASE(test_close_drops_what_the_loop_did_not_take),
        LL_CASE(test_close_of_an_inbox_never_opened),
    };
    return ll_test_main(argc, argv, "loop_inbox", cases, LL_CASES(cases));
}
