/* libFuzzer target: the event envelope decoder and the chain verifier must never crash, leak
 * or accept something they cannot reproduce. Whatever decodes must re-encode canonically and
 * decode again to the same struct. */
#include "ll_event_codec.h"
#include "ll_hash_chain.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ll_event_t ev;
    ll_error_t err;
    if (ll_event_decode((const char *)data, size, &ev, &err) == 0) {
        static char buf[LL_EVENT_JSON_BYTES_MAX];
        size_t len = 0;
        if (ll_event_encode(&ev, true, buf, sizeof buf, &len, &err) != 0) abort();
        ll_event_t again;
        if (ll_event_decode(buf, len, &again, &err) != 0) abort();
        if (memcmp(&ev, &again, sizeof ev) != 0) abort();
    }
    const char *texts[1] = {(const char *)data};
    size_t lens[1] = {size};
    ll_chain_result_t res;
    if (ll_chain_verify(texts, lens, 1, &res, &err) != 0) abort();
    return 0;
}
