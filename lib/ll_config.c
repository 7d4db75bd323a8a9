/* ll_config.c - see ll_config.h. Table-driven: one row per key says its type, bounds and default. */
#include "ll_config.h"

#include "ll_client_addr.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum {
    LL_CFG_STRING,   /* any printable text */
    LL_CFG_NAME,     /* [A-Za-z0-9._-]+, e.g. topic and database names */
    LL_CFG_HOSTPORT, /* HOST:PORT, port 1..65535 */
    LL_CFG_HOSTLIST, /* HOST:PORT[,HOST:PORT...] */
    LL_CFG_ADDRLIST, /* addresses or CIDR ranges separated by ',' (ll_client_addr.h); may be empty */
    LL_CFG_LEVEL,    /* debug|info|warn|error */
    LL_CFG_INT,      /* decimal integer in [min, max] */
} ll_cfg_kind_t;

typedef enum {
    LL_REDACT_NONE,
    LL_REDACT_ALL,      /* the whole value is a secret */
    LL_REDACT_CONNINFO, /* password=... inside a libpq conninfo */
    LL_REDACT_URI,      /* user:password@ inside a URI */
} ll_cfg_redact_t;

typedef struct {
    const char *key;
    ll_cfg_kind_t kind;
    size_t offset; /* of the field in ll_config_t */
    const char *default_value;
    int64_t min, max; /* LL_CFG_INT only */
    ll_cfg_redact_t redact;
} ll_cfg_key_t;

#define STR_KEY(name, kind, def, redact)                                                                     \
    { #name, kind, offsetof(ll_config_t, name), def, 0, 0, redact }
#define INT_KEY(name, def, lo, hi)                                                                           \
    { #name, LL_CFG_INT, offsetof(ll_config_t, name), def, lo, hi, LL_REDACT_NONE }

/* Defaults point at deploy/local/stack.env's ports. */
static const ll_cfg_key_t keys[] = {
    STR_KEY(pg_conninfo, LL_CFG_STRING,
            "host=127.0.0.1 port=55432 dbname=ledgerline user=ledgerline password=ledgerline "
            "connect_timeout=5 application_name=ledgerline",
            LL_REDACT_CONNINFO),
    STR_KEY(pg_migrate_conninfo, LL_CFG_STRING,
            "host=127.0.0.1 port=55432 dbname=ledgerline user=ledgerline_owner password=ledgerline_owner "
            "connect_timeout=5 application_name=ledgerline-migrate",
            LL_REDACT_CONNINFO),
    STR_KEY(pg_app_role, LL_CFG_NAME, "ledgerline", LL_REDACT_NONE),
    STR_KEY(kafka_bootstrap_servers, LL_CFG_HOSTLIST, "127.0.0.1:59092", LL_REDACT_NONE),
    STR_KEY(kafka_topic_events, LL_CFG_NAME, "ledgerline.account-events", LL_REDACT_NONE),
    STR_KEY(kafka_topic_dlq, LL_CFG_NAME, "ledgerline.account-events.dlq", LL_REDACT_NONE),
    STR_KEY(kafka_projector_group, LL_CFG_NAME, "ledgerline-projector", LL_REDACT_NONE),
    STR_KEY(mongo_uri, LL_CFG_STRING,
            "mongodb://127.0.0.1:57017/"
            "?serverSelectionTimeoutMS=5000&connectTimeoutMS=5000&socketTimeoutMS=15000",
            LL_REDACT_URI),
    STR_KEY(mongo_database, LL_CFG_NAME, "ledgerline", LL_REDACT_NONE),
    STR_KEY(command_listen, LL_CFG_HOSTPORT, "127.0.0.1:8080", LL_REDACT_NONE),
    STR_KEY(query_listen, LL_CFG_HOSTPORT, "127.0.0.1:8081", LL_REDACT_NONE),
    STR_KEY(projector_metrics_listen, LL_CFG_HOSTPORT, "127.0.0.1:8082", LL_REDACT_NONE),
    STR_KEY(relay_metrics_listen, LL_CFG_HOSTPORT, "127.0.0.1:8083", LL_REDACT_NONE),
    STR_KEY(trusted_proxies, LL_CFG_ADDRLIST, "", LL_REDACT_NONE),
    STR_KEY(jwt_secret, LL_CFG_STRING, "", LL_REDACT_ALL),
    STR_KEY(jwt_secret_previous, LL_CFG_STRING, "", LL_REDACT_ALL),
    STR_KEY(log_level, LL_CFG_LEVEL, "info", LL_REDACT_NONE),
    INT_KEY(body_bytes_max, "16384", 1024, LL_BODY_BYTES_MAX_LIMIT),
    INT_KEY(request_timeout_ms, "5000", 10, 600000),
    INT_KEY(query_view_accounts_max, "1000000", 0, 100000000),
    INT_KEY(query_view_movements_bytes, "268435456", 0, 1099511627776LL),
    INT_KEY(min_version_wait_ms, "2000", 0, 60000),
    INT_KEY(rate_limit_per_second, "100", 0, 1000000000),
    INT_KEY(rate_limit_burst, "200", 1, 1000000000),
    INT_KEY(rate_limit_ip_per_second, "1000", 0, 1000000000),
    INT_KEY(rate_limit_ip_burst, "2000", 1, 1000000000),
    INT_KEY(http_connections_max, "1024", 1, 1000000),
    INT_KEY(projector_cache_accounts, "1000000", 0, 100000000),
    INT_KEY(projector_cache_items_bytes, "268435456", 0, 1099511627776LL),
    INT_KEY(projector_writers, "4", 1, LL_READ_MODEL_WRITERS_MAX),
    INT_KEY(projector_heal_events_max, "10000", 1, 1000000),
    INT_KEY(idempotency_retention_seconds, "86400", 1, 31536000),
    INT_KEY(hold_expiry_interval_ms, "1000", 100, 60000),
    INT_KEY(projector_session_timeout_ms, "6000", 6000, 300000), /* >= Kafka's minimum, <= max.poll.interval.ms */
    INT_KEY(projector_batch_ms, "5", 0, 10000),
    INT_KEY(projector_fetch_wait_ms, "50", 0, 1000),
    INT_KEY(projector_fetch_min_bytes, "65536", 1, 1048576),
};
#define KEY_COUNT (sizeof keys / sizeof keys[0])

_Static_assert(LL_BODY_BYTES_MAX_DEFAULT == 16384, "body_bytes_max default matches ll_limits.h");
_Static_assert(LL_MIN_VERSION_WAIT_MS == 2000, "min_version_wait_ms default matches ll_limits.h");

static const ll_cfg_key_t *find_key(const char *key) {
    for (size_t i = 0; i < KEY_COUNT; i++)
        if (strcmp(keys[i].key, key) == 0) return &keys[i];
    return NULL;
}

static int parse_port(const char *s, size_t len) {
    if (len == 0 || len > 5) return -1;
    int port = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        port = port * 10 + (s[i] - '0');
    }
    return (port >= 1 && port <= 65535) ? port : -1;
}

/* HOST:PORT where HOST is a name, an IPv4 address or a bracketed IPv6 address. */
static int valid_hostport(const char *s, size_t len) {
    const char *colon = NULL;
    for (size_t i = len; i > 0; i--)
        if (s[i - 1] == ':') {
            colon = s + i - 1;
            break;
        }
    if (colon == NULL || colon == s) return 0;
    size_t host_len = (size_t)(colon - s);
    if (parse_port(colon + 1, len - host_len - 1) < 0) return 0;
    if (s[0] == '[') return host_len >= 3 && s[host_len - 1] == ']';
    for (size_t i = 0; i < host_len; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '.' || s[i] == '-' || s[i] == '_')) return 0;
    return 1;
}

static int valid_hostlist(const char *s) {
    const char *p = s;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (!valid_hostport(p, len)) return 0;
        if (comma == NULL) return 1;
        p = comma + 1;
    }
}

static int valid_name(const char *s) {
    if (*s == '\0') return 0;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '.' || *s == '_' || *s == '-')) return 0;
    return 1;
}

static int printable(const char *s) {
    for (; *s; s++)
        if (!isprint((unsigned char)*s)) return 0;
    return 1;
}

static int parse_int(const char *s, int64_t *out) {
    if (*s == '\0') return -1;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || isspace((unsigned char)*s)) return -1;
    *out = (int64_t)v;
    return 0;
}

/* Checks value against k; on success stores it. */
static int set_value(ll_config_t *cfg, const ll_cfg_key_t *k, const char *value, const char *origin,
                     ll_error_t *err) {
    char *field = (char *)cfg + k->offset;
    if (k->kind == LL_CFG_INT) {
        int64_t v;
        if (parse_int(value, &v) != 0 || v < k->min || v > k->max)
            return ll_error_set(err, LL_EINVAL, "%s: %s: expected an integer in %lld..%lld, got \"%.64s\"",
                                origin, k->key, (long long)k->min, (long long)k->max, value);
        memcpy(field, &v, sizeof v);
        return 0;
    }
    size_t len = strlen(value);
    if (len >= LL_CONFIG_VALUE_BYTES_MAX)
        return ll_error_set(err, LL_EINVAL, "%s: %s: value longer than %d bytes", origin, k->key,
                            LL_CONFIG_VALUE_BYTES_MAX - 1);
    if (!printable(value))
        return ll_error_set(err, LL_EINVAL, "%s: %s: value contains control characters", origin, k->key);
    const char *expect = NULL;
    switch (k->kind) {
    case LL_CFG_NAME:
        if (!valid_name(value)) expect = "a name of letters, digits, '.', '_' or '-'";
        break;
    case LL_CFG_HOSTPORT:
        if (!valid_hostport(value, len)) expect = "HOST:PORT with a port in 1..65535";
        break;
    case LL_CFG_HOSTLIST:
        if (!valid_hostlist(value)) expect = "HOST:PORT[,HOST:PORT...]";
        break;
    case LL_CFG_ADDRLIST: {
        ll_trusted_proxies_t parsed;
        ll_error_t why = {""};
        if (ll_trusted_proxies_parse(value, &parsed, &why) != 0)
            return ll_error_set(err, LL_EINVAL, "%s: %s: expected addresses or CIDR ranges separated by ',' (%s)",
                                origin, k->key, why.msg);
        break;
    }
    case LL_CFG_LEVEL:
        if (strcmp(value, "debug") && strcmp(value, "info") && strcmp(value, "warn") &&
            strcmp(value, "error"))
            expect = "one of debug, info, warn, error";
        break;
    case LL_CFG_STRING:
        if (k->redact == LL_REDACT_ALL && len > 0 && len < 32)
            return ll_error_set(err, LL_EINVAL, "%s: %s: a secret must be at least 32 bytes", origin, k->key);
        if (k->redact != LL_REDACT_ALL && len == 0) expect = "a non-empty value";
        break;
    case LL_CFG_INT:
        break;
    }
    if (expect != NULL) {
        /* Never echo a value that may hold a password. */
        if (k->redact != LL_REDACT_NONE)
            return ll_error_set(err, LL_EINVAL, "%s: %s: expected %s", origin, k->key, expect);
        return ll_error_set(err, LL_EINVAL, "%s: %s: expected %s, got \"%.64s\"", origin, k->key, expect,
                            value);
    }
    memcpy(field, value, len + 1);
    return 0;
}

void ll_config_init(ll_config_t *cfg) {
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < KEY_COUNT; i++) {
        int rc = set_value(cfg, &keys[i], keys[i].default_value, "default", NULL);
        (void)rc;
        /* Defaults are compile-time constants; one that fails validation is a programming error. */
        if (rc != 0) abort();
    }
}

int ll_config_set(ll_config_t *cfg, const char *key, const char *value, const char *origin, ll_error_t *err) {
    const ll_cfg_key_t *k = find_key(key);
    if (k == NULL) return ll_error_set(err, LL_ENOENT, "%s: unknown setting \"%.64s\"", origin, key);
    return set_value(cfg, k, value, origin, err);
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1])) *--end = '\0';
    return s;
}

/* Parses one line of a config file; seen[] catches keys given twice. */
static int apply_line(ll_config_t *cfg, char *line, const char *origin, int seen[KEY_COUNT],
                      ll_error_t *err) {
    char *s = trim(line);
    if (*s == '\0' || *s == '#') return 0;
    char *eq = strchr(s, '=');
    if (eq == NULL) return ll_error_set(err, LL_EINVAL, "%s: expected \"key = value\"", origin);
    *eq = '\0';
    char *key = trim(s), *value = trim(eq + 1);
    const ll_cfg_key_t *k = find_key(key);
    if (k == NULL) return ll_error_set(err, LL_ENOENT, "%s: unknown setting \"%.64s\"", origin, key);
    size_t idx = (size_t)(k - keys);
    if (seen[idx]) return ll_error_set(err, LL_EINVAL, "%s: %s: set twice in the file", origin, key);
    seen[idx] = 1;
    return set_value(cfg, k, value, origin, err);
}

int ll_config_load_file(ll_config_t *cfg, const char *path, ll_error_t *err) {
    FILE *f = fopen(path, "r");
    if (f == NULL) return ll_error_set(err, LL_EIO, "config file %s: %s", path, strerror(errno));
    int seen[KEY_COUNT] = {0};
    char line[LL_CONFIG_LINE_BYTES_MAX + 2];
    char origin[256];
    long total = 0;
    int rc = 0;
    for (int lineno = 1; fgets(line, sizeof line, f) != NULL; lineno++) {
        snprintf(origin, sizeof origin, "%s:%d", path, lineno);
        size_t len = strlen(line);
        total += (long)len;
        if (total > LL_CONFIG_FILE_BYTES_MAX) {
            rc =
                ll_error_set(err, LL_ELIMIT, "%s: file larger than %d bytes", path, LL_CONFIG_FILE_BYTES_MAX);
            break;
        }
        if (len > LL_CONFIG_LINE_BYTES_MAX || (len == sizeof line - 1 && line[len - 1] != '\n')) {
            rc = ll_error_set(err, LL_ELIMIT, "%s: line longer than %d bytes", origin,
                              LL_CONFIG_LINE_BYTES_MAX);
            break;
        }
        if ((rc = apply_line(cfg, line, origin, seen, err)) != 0) break;
    }
    if (rc == 0 && ferror(f)) rc = ll_error_set(err, LL_EIO, "config file %s: read error", path);
    fclose(f);
    return rc;
}

int ll_config_apply_env(ll_config_t *cfg, char *const *envp, ll_error_t *err) {
    const size_t prefix_len = strlen(LL_CONFIG_ENV_PREFIX);
    for (; envp != NULL && *envp != NULL; envp++) {
        const char *entry = *envp;
        if (strncmp(entry, LL_CONFIG_ENV_PREFIX, prefix_len) != 0) continue;
        const char *eq = strchr(entry, '=');
        if (eq == NULL) continue;
        size_t name_len = (size_t)(eq - entry);
        char name[128], key[128];
        if (name_len >= sizeof name)
            return ll_error_set(err, LL_ENOENT, "environment: unknown setting %.64s...", entry);
        memcpy(name, entry, name_len);
        name[name_len] = '\0';
        if (strcmp(name, LL_CONFIG_ENV_FILE) == 0) continue;
        size_t key_len = name_len - prefix_len;
        for (size_t i = 0; i < key_len; i++) key[i] = (char)tolower((unsigned char)name[prefix_len + i]);
        key[key_len] = '\0';
        const ll_cfg_key_t *k = find_key(key);
        if (k == NULL) return ll_error_set(err, LL_ENOENT, "environment: unknown setting %s", name);
        int rc = set_value(cfg, k, eq + 1, name, err);
        if (rc != 0) return rc;
    }
    return 0;
}

int ll_config_load(ll_config_t *cfg, const char *path, char *const *envp, ll_error_t *err) {
    ll_config_init(cfg);
    if (path == NULL) {
        for (char *const *e = envp; e != NULL && *e != NULL; e++)
            if (strncmp(*e, LL_CONFIG_ENV_FILE "=", sizeof LL_CONFIG_ENV_FILE) == 0)
                path = *e + sizeof LL_CONFIG_ENV_FILE;
    }
    if (path != NULL && *path != '\0') {
        int rc = ll_config_load_file(cfg, path, err);
        if (rc != 0) return rc;
    } else {
        FILE *f = fopen(LL_CONFIG_DEFAULT_FILE, "r");
        if (f != NULL) {
            fclose(f);
            int rc = ll_config_load_file(cfg, LL_CONFIG_DEFAULT_FILE, err);
            if (rc != 0) return rc;
        }
    }
    return ll_config_apply_env(cfg, envp, err);
}

const char *ll_config_get(const ll_config_t *cfg, const char *key) {
    const ll_cfg_key_t *k = find_key(key);
    return k == NULL || k->kind == LL_CFG_INT ? NULL : (const char *)cfg + k->offset;
}

/* Appends text[0..n) to out (size out_len, at *o), truncating. */
static void put(char *out, size_t out_len, size_t *o, const char *text, size_t n) {
    for (size_t i = 0; i < n && *o + 1 < out_len; i++) out[(*o)++] = text[i];
    out[*o] = '\0';
}

/* A URI (mongodb://, postgresql://) with the password of its user info and any password=
 * query parameter replaced by ***. The user info ends at the authority's last '@' (a password
 * may hold '@' when a client forgot to percent-encode it). */
static void redact_uri(const char *v, char *out, size_t out_len) {
    size_t o = 0;
    out[0] = '\0';
    const char *scheme = strstr(v, "://");
    if (scheme == NULL) {
        put(out, out_len, &o, v, strlen(v));
        return;
    }
    const char *auth = scheme + 3, *auth_end = auth + strcspn(auth, "/?#");
    const char *at = NULL, *colon = NULL;
    for (const char *c = auth; c < auth_end; c++)
        if (*c == '@') at = c;
    for (const char *c = auth; at != NULL && c < at && colon == NULL; c++)
        if (*c == ':') colon = c;
    if (colon != NULL) {
        put(out, out_len, &o, v, (size_t)(colon + 1 - v));
        put(out, out_len, &o, "***", 3);
        put(out, out_len, &o, at, (size_t)(auth_end - at));
    } else {
        put(out, out_len, &o, v, (size_t)(auth_end - v));
    }
    /* The path, then parameters after ? separated by &: password=... (any case) loses its
     * value. */
    const char *c = auth_end + strcspn(auth_end, "?#");
    put(out, out_len, &o, auth_end, (size_t)(c - auth_end));
    for (; *c;) {
        if (*c == '#') { /* a fragment: no client reads it; nothing of it is shown */
            put(out, out_len, &o, "#***", 4);
            break;
        }
        size_t n = strcspn(c + 1, "&#") + 1; /* one separator and what follows it */
        put(out, out_len, &o, c, 1);
        if ((c[0] == '?' || c[0] == '&') && strncasecmp(c + 1, "password=", 9) == 0) {
            put(out, out_len, &o, "password=***", 12);
        } else {
            put(out, out_len, &o, c + 1, n - 1);
        }
        c += n;
    }
}

/* A libpq conninfo: a URI, or keyword = value pairs where a value may be single-quoted with
 * backslash escapes and spaces may surround '='. password's value becomes ***; every other
 * byte is kept. */
static void redact_conninfo(const char *v, char *out, size_t out_len) {
    if (strncmp(v, "postgresql://", 13) == 0 || strncmp(v, "postgres://", 11) == 0) {
        redact_uri(v, out, out_len);
        return;
    }
    size_t o = 0;
    out[0] = '\0';
    const char *c = v;
    while (*c) {
        const char *start = c;
        while (isspace((unsigned char)*c)) c++;
        const char *key = c;
        while (*c && *c != '=' && !isspace((unsigned char)*c)) c++;
        size_t key_len = (size_t)(c - key);
        while (isspace((unsigned char)*c)) c++;
        if (*c != '=') { /* not a pair (libpq would refuse it): keep it */
            put(out, out_len, &o, start, (size_t)(c - start) + (*c ? 1 : 0));
            if (*c) c++;
            continue;
        }
        c++;
        while (isspace((unsigned char)*c)) c++;
        const char *val = c;
        if (*c == '\'') {
            for (c++; *c && *c != '\''; c++)
                if (*c == '\\' && c[1]) c++;
            if (*c == '\'') c++;
        } else {
            while (*c && !isspace((unsigned char)*c)) c++;
        }
        put(out, out_len, &o, start, (size_t)(val - start));
        if (key_len == 8 && strncmp(key, "password", 8) == 0)
            put(out, out_len, &o, "***", 3);
        else
            put(out, out_len, &o, val, (size_t)(c - val));
    }
}

/* Copies value into out (of size out_len) with its secret parts replaced by ***. */
static void redact(const char *value, ll_cfg_redact_t how, char *out, size_t out_len) {
    if (how == LL_REDACT_ALL)
        snprintf(out, out_len, "%s", *value ? "***" : "");
    else if (how == LL_REDACT_CONNINFO)
        redact_conninfo(value, out, out_len);
    else if (how == LL_REDACT_URI)
        redact_uri(value, out, out_len);
    else
        snprintf(out, out_len, "%s", value);
}

void ll_config_print(const ll_config_t *cfg, FILE *out) {
    char buf[LL_CONFIG_VALUE_BYTES_MAX + 8];
    for (size_t i = 0; i < KEY_COUNT; i++) {
        const ll_cfg_key_t *k = &keys[i];
        const char *field = (const char *)cfg + k->offset;
        if (k->kind == LL_CFG_INT) {
            int64_t v;
            memcpy(&v, field, sizeof v);
            fprintf(out, "%s = %lld\n", k->key, (long long)v);
        } else {
            redact(field, k->redact, buf, sizeof buf);
            fprintf(out, "%s = %s\n", k->key, buf);
        }
    }
}
