/* ll_json.c - see ll_json.h. */
#include "ll_json.h"

#include <string.h>

json_t *ll_json_parse_object(const char *buf, size_t len, size_t max_bytes, ll_error_t *err) {
    if (len > max_bytes) {
        ll_error_set(err, LL_ELIMIT, "body of %zu bytes exceeds the limit of %zu bytes", len, max_bytes);
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        ll_error_set(err, LL_EINVAL, "malformed JSON at line %d column %d: %s", jerr.line, jerr.column,
                     jerr.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        ll_error_set(err, LL_EINVAL, "the body must be a JSON object");
        return NULL;
    }
    return root;
}

int ll_json_only_keys(const json_t *obj, const char *const *allowed, size_t n, const char *prefix,
                      ll_error_t *err) {
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value) {
        (void)value;
        size_t i = 0;
        while (i < n && strcmp(allowed[i], key) != 0) i++;
        if (i == n) {
            /* Keys come from the input: bound and sanitise what we echo. */
            char shown[65];
            size_t k = 0;
            for (const char *p = key; *p && k < sizeof shown - 1; p++)
                shown[k++] = (*p >= 0x20 && *p < 0x7f && *p != '"') ? *p : '?';
            shown[k] = '\0';
            return ll_error_set(err, LL_EINVAL, "%s%s: unknown field", prefix, shown);
        }
    }
    return 0;
}

bool ll_json_text_clean(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return false;
    return true;
}

bool ll_json_token_valid(const char *s) {
    if (*s == '\0') return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x21 || *p > 0x7e) return false;
    return true;
}

/* Looks key up; returns NULL when absent (err set if required, code in *rc). */
static json_t *field(const json_t *obj, const char *key, const char *prefix, bool required, int *rc,
                     ll_error_t *err) {
    json_t *v = json_object_get(obj, key);
    *rc = 0;
    if (v == NULL && required) *rc = ll_error_set(err, LL_EINVAL, "%s%s: missing", prefix, key);
    return v;
}

int ll_json_get_string(const json_t *obj, const char *key, const char *prefix, bool required,
                       size_t min_bytes, size_t max_bytes, char *out, size_t out_size, ll_error_t *err) {
    int rc;
    json_t *v = field(obj, key, prefix, required, &rc, err);
    if (v == NULL) return rc;
    if (!json_is_string(v)) return ll_error_set(err, LL_EINVAL, "%s%s: must be a string", prefix, key);
    size_t len = json_string_length(v);
    if (len < min_bytes || len > max_bytes || len >= out_size)
        return ll_error_set(err, LL_EINVAL, "%s%s: must be %zu to %zu bytes long", prefix, key, min_bytes,
                            max_bytes);
    const char *s = json_string_value(v);
    if (strlen(s) != len || !ll_json_text_clean(s))
        return ll_error_set(err, LL_EINVAL, "%s%s: must not contain control characters", prefix, key);
    memcpy(out, s, len + 1);
    return 0;
}

int ll_json_get_int64(const json_t *obj, const char *key, const char *prefix, bool required, int64_t min,
                      int64_t max, int64_t *out, ll_error_t *err) {
    int rc;
    json_t *v = field(obj, key, prefix, required, &rc, err);
    if (v == NULL) return rc;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return ll_error_set(err, LL_EINVAL, "%s%s: must be an integer in %lld..%lld", prefix, key,
                            (long long)min, (long long)max);
    *out = (int64_t)json_integer_value(v);
    return 0;
}

int ll_json_get_uuid(const json_t *obj, const char *key, const char *prefix, bool required, bool allow_upper,
                     ll_uuid_t *out, ll_error_t *err) {
    int rc;
    json_t *v = field(obj, key, prefix, required, &rc, err);
    if (v == NULL) return rc;
    if (!json_is_string(v) || ll_uuid_parse(json_string_value(v), allow_upper, out) != 0)
        return ll_error_set(err, LL_EINVAL, "%s%s: must be a UUID (8-4-4-4-12 hex%s)", prefix, key,
                            allow_upper ? "" : ", lower case");
    return 0;
}

int ll_json_get_bool(const json_t *obj, const char *key, const char *prefix, bool required, bool *out,
                     ll_error_t *err) {
    int rc;
    json_t *v = field(obj, key, prefix, required, &rc, err);
    if (v == NULL) return rc;
    if (!json_is_boolean(v)) return ll_error_set(err, LL_EINVAL, "%s%s: must be true or false", prefix, key);
    *out = json_is_true(v);
    return 0;
}

int ll_json_get_currency(const json_t *obj, const char *key, const char *prefix, bool required,
                         ll_currency_t *out, ll_error_t *err) {
    int rc;
    json_t *v = field(obj, key, prefix, required, &rc, err);
    if (v == NULL) return rc;
    if (!json_is_string(v) || ll_currency_parse(json_string_value(v), out) != 0)
        return ll_error_set(err, LL_EINVAL, "%s%s: must be an active ISO 4217 currency code such as \"EUR\"",
                            prefix, key);
    return 0;
}
