/* ll_loop_inbox.c - see ll_loop_inbox.h. */
#include "ll_loop_inbox.h"

static void on_messages(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages) {
    ll_loop_inbox_t *in = H2O_STRUCT_FROM_MEMBER(ll_loop_inbox_t, receiver, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *msg = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&msg->link);
        in->deliver(msg, in->ctx);
    }
}

void ll_loop_inbox_open(ll_loop_inbox_t *in, h2o_loop_t *loop, ll_loop_inbox_fn deliver, void *ctx) {
    in->deliver = deliver;
    in->ctx = ctx;
    in->queue = h2o_multithread_create_queue(loop);
    h2o_multithread_register_receiver(in->queue, &in->receiver, on_messages);
}

void ll_loop_inbox_post(ll_loop_inbox_t *in, h2o_multithread_message_t *msg) {
    h2o_multithread_send_message(&in->receiver, msg);
}

void ll_loop_inbox_close(ll_loop_inbox_t *in) {
    if (in->queue == NULL) return;
    /* What was posted after the loop last turned (work a stop finished after the server's drain)
     * is dropped, not delivered: a deliver may start more work (a query's next look) on what is
     * being torn down, and the process is ending. h2o asserts that a receiver leaves with
     * nothing queued. The posters are gone, so nothing races this. */
    while (!h2o_linklist_is_empty(&in->receiver._messages)) h2o_linklist_unlink(in->receiver._messages.next);
    h2o_multithread_unregister_receiver(in->queue, &in->receiver);
    h2o_multithread_destroy_queue(in->queue);
    in->queue = NULL;
}
