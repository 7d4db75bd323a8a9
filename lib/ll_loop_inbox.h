/* ll_loop_inbox.h - the way back from other threads to an h2o loop: a thread posts a message,
 * the loop thread is handed it. The query API's worker pool (ll_offload: a job's done) and the
 * command service (a write's answer) both answer requests this way.
 *
 * A message is an h2o_multithread_message_t inside the poster's own struct (zeroed before its
 * first post); deliver() gets it back and finds its struct with H2O_STRUCT_FROM_MEMBER.
 */
#ifndef LL_LOOP_INBOX_H
#define LL_LOOP_INBOX_H

#include <h2o.h>

/* Loop thread: one message, unlinked already. */
typedef void (*ll_loop_inbox_fn)(h2o_multithread_message_t *msg, void *ctx);

typedef struct ll_loop_inbox {
    h2o_multithread_queue_t *queue; /* NULL: not open */
    h2o_multithread_receiver_t receiver;
    ll_loop_inbox_fn deliver;
    void *ctx;
} ll_loop_inbox_t;

/* Opens in on loop (loop thread, before anything posts to it). */
void ll_loop_inbox_open(ll_loop_inbox_t *in, h2o_loop_t *loop, ll_loop_inbox_fn deliver, void *ctx);

/* Any thread: deliver(msg, ctx) runs on the loop thread soon after. */
void ll_loop_inbox_post(ll_loop_inbox_t *in, h2o_multithread_message_t *msg);

/* Loop thread, once nothing posts any more: what was posted and not delivered yet never is (it
 * is dropped: the caller is ending). An inbox never opened (zeroed) is fine. */
void ll_loop_inbox_close(ll_loop_inbox_t *in);

#endif
