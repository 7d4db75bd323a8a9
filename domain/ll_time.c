/* ll_time.c - see ll_time.h. Civil-date arithmetic after Howard Hinnant's days_from_civil. */
#include "ll_time.h"

#include <stdbool.h>
#include <string.h>

#define US_PER_S  1000000LL
#define S_PER_DAY 86400LL

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static bool leap(int y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : days[m - 1];
}

/* Writes value as exactly n decimal digits, zero-padded. */
static void put_digits(char *out, int value, int n) {
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + value % 10);
        value /= 10;
    }
}

int ll_time_format(int64_t us, char out[LL_TIME_TEXT_LEN + 1]) {
    if (us < LL_TIME_US_MIN || us > LL_TIME_US_MAX) return -1;
    int64_t secs = us / US_PER_S, frac = us % US_PER_S;
    int64_t days = secs / S_PER_DAY, rem = secs % S_PER_DAY;
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    /* "YYYY-MM-DDTHH:MM:SS.ffffffZ", written digit by digit (the range check above bounds y). */
    put_digits(out, y, 4);
    out[4] = '-';
    put_digits(out + 5, m, 2);
    out[7] = '-';
    put_digits(out + 8, d, 2);
    out[10] = 'T';
    put_digits(out + 11, (int)(rem / 3600), 2);
    out[13] = ':';
    put_digits(out + 14, (int)(rem / 60 % 60), 2);
    out[16] = ':';
    put_digits(out + 17, (int)(rem % 60), 2);
    out[19] = '.';
    put_digits(out + 20, (int)frac, 6);
    out[26] = 'Z';
    out[27] = '\0';
    return 0;
}

/* Reads exactly n digits at *p; advances *p. Returns the value or -1. */
static int digits(const char **p, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    return v;
}

/* Parses "YYYY-MM-DD?HH:MM:SS" at *p into seconds since the epoch (local to the offset). */
static int parse_date_time(const char **p, char sep_lower, int64_t *secs) {
    int y = digits(p, 4);
    if (y < 0 || *(*p)++ != '-') return -1;
    int mo = digits(p, 2);
    if (mo < 0 || *(*p)++ != '-') return -1;
    int d = digits(p, 2);
    char sep = *(*p)++;
    if (d < 0 || !(sep == 'T' || (sep_lower && (sep == 't' || sep == ' ')))) return -1;
    int h = digits(p, 2);
    if (h < 0 || *(*p)++ != ':') return -1;
    int mi = digits(p, 2);
    if (mi < 0 || *(*p)++ != ':') return -1;
    int s = digits(p, 2);
    if (s < 0 || y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        s > 59)
        return -1;
    *secs = days_from_civil(y, mo, d) * S_PER_DAY + h * 3600 + mi * 60 + s;
    return 0;
}

int ll_time_parse_canonical(const char *s, int64_t *out) {
    if (s == NULL || strlen(s) != LL_TIME_TEXT_LEN) return -1;
    const char *p = s;
    int64_t secs;
    if (parse_date_time(&p, 0, &secs) != 0 || *p++ != '.') return -1;
    int frac = digits(&p, 6);
    if (frac < 0 || *p++ != 'Z' || *p != '\0') return -1;
    int64_t us = secs * US_PER_S + frac;
    if (us < LL_TIME_US_MIN || us > LL_TIME_US_MAX) return -1;
    *out = us;
    return 0;
}

/* Parses without the range check; *out may lie outside LL_TIME_US_MIN..MAX. */
static int parse_rfc3339_unbounded(const char *s, int64_t *out) {
    if (s == NULL || strlen(s) > 64) return -1;
    const char *p = s;
    int64_t secs;
    if (parse_date_time(&p, 1, &secs) != 0) return -1;
    int64_t frac_us = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        for (; *p >= '0' && *p <= '9'; p++, n++)
            if (n < 6) frac_us = frac_us * 10 + (*p - '0');
        if (n == 0 || n > 9) return -1;
        for (; n < 6; n++) frac_us *= 10;
    }
    int64_t offset_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1;
        int oh = digits(&p, 2);
        if (oh < 0 || oh > 23 || *p++ != ':') return -1;
        int om = digits(&p, 2);
        if (om < 0 || om > 59) return -1;
        offset_s = sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (*p != '\0') return -1;
    *out = (secs - offset_s) * US_PER_S + frac_us;
    return 0;
}

int ll_time_parse_rfc3339(const char *s, int64_t *out) {
    int64_t us;
    if (parse_rfc3339_unbounded(s, &us) != 0 || us < LL_TIME_US_MIN || us > LL_TIME_US_MAX) return -1;
    *out = us;
    return 0;
}

int ll_time_parse_rfc3339_clamped(const char *s, int64_t *out) {
    int64_t us;
    if (parse_rfc3339_unbounded(s, &us) != 0) return -1;
    *out = us < LL_TIME_US_MIN ? LL_TIME_US_MIN : us > LL_TIME_US_MAX ? LL_TIME_US_MAX : us;
    return 0;
}
