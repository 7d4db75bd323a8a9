/* ll_replay.c - see ll_replay.h. */
#include "ll_replay.h"

#include "ll_event_codec.h"

#include <string.h>

int ll_replay_each(ll_account_t *state, const ll_event_t *events, size_t n, ll_replay_visit_fn visit,
                   void *ctx, size_t *failed_index, ll_error_t *err) {
    for (size_t i = 0; i < n; i++) {
        if (ll_account_evolve(state, &events[i], err) != LL_EVOLVE_OK) {
            if (failed_index != NULL) *failed_index = i;
            return LL_EINVAL;
        }
        if (visit != NULL && visit(&events[i], state, ctx) != 0) break;
    }
    return 0;
}

int ll_replay_fold(ll_account_t *state, const ll_event_t *events, size_t n, size_t *failed_index,
                   ll_error_t *err) {
    return ll_replay_each(state, events, n, NULL, NULL, failed_index, err);
}

int ll_replay_as_of(ll_account_t *state, const ll_event_t *events, size_t n, int64_t as_of_us,
                    size_t *applied, ll_error_t *err) {
    size_t i = 0;
    while (i < n && events[i].occurred_at_us <= as_of_us) i++;
    if (applied != NULL) *applied = i;
    return ll_replay_fold(state, events, i, NULL, err);
}

int ll_replay_envelope(ll_account_t *state, const char *text, size_t len, ll_event_t *ev, ll_error_t *err) {
    if (ll_event_decode(text, len, ev, err) != 0) return LL_EINVAL;
    return ll_account_evolve(state, ev, err) == LL_EVOLVE_OK ? 0 : LL_EINVAL;
}

int ll_replay_resume(ll_account_t *state, const ll_event_t *last, ll_error_t *err) {
    if (!ll_uuid_equal(&state->account_id, &last->account_id))
        return ll_error_set(err, LL_EINVAL, "event of another account");
    if (state->status != LL_ACCOUNT_OPEN || state->version != 1)
        return ll_error_set(err, LL_EINVAL, "the account must be right after its opening");
    if (last->version < 2 || last->type == LL_EVENT_ACCOUNT_OPENED)
        return ll_error_set(err, LL_EINVAL, "version %lld cannot follow the opening", (long long)last->version);
    if (strlen(last->hash) != LL_HASH_HEX_LEN)
        return ll_error_set(err, LL_EINVAL, "version %lld is not sealed (no hash)", (long long)last->version);
    return ll_account_take_figures(state, last, err);
}
