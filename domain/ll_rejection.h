/* ll_rejection.h - why a command was refused. Stable slugs: the HTTP layer turns each into a
 * problem+json `type` URI (docs/errors.md), so a slug never changes once released. */
#ifndef LL_REJECTION_H
#define LL_REJECTION_H

typedef enum ll_rejection {
    LL_REJECT_NONE = 0,
    LL_REJECT_AMOUNT_OUT_OF_RANGE, /* amount outside 1..10^15 minor units */
    LL_REJECT_INVALID_CURRENCY,    /* not an active ISO 4217 code */
    LL_REJECT_INVALID_OWNER,       /* empty owner */
    LL_REJECT_CURRENCY_MISMATCH,   /* command currency differs from the account's */
    LL_REJECT_INSUFFICIENT_FUNDS,  /* balance would fall below the allowed floor */
    LL_REJECT_ACCOUNT_NOT_FOUND,   /* the stream has no events */
    LL_REJECT_ACCOUNT_EXISTS,      /* open on an existing stream */
    LL_REJECT_ACCOUNT_CLOSED,      /* any command but a read on a closed account */
    LL_REJECT_BALANCE_NOT_ZERO,    /* close with money still on the account */
    LL_REJECT_BALANCE_OVERFLOW,    /* balance would exceed int64 */
    LL_REJECT_SAME_ACCOUNT,        /* transfer to itself */
    LL_REJECT_ACCOUNT_FROZEN,      /* a debit (or close) of a frozen account */
    LL_REJECT_ALREADY_FROZEN,      /* freeze of a frozen account */
    LL_REJECT_NOT_FROZEN,          /* unfreeze of an account that is not frozen */
    LL_REJECT_HOLDS_OPEN,          /* close with open holds */
    LL_REJECT_CREDIT_LIMIT_IN_USE, /* a limit below what the account already uses */
    LL_REJECT_INVALID_EXPIRY,      /* a hold's expiry outside 1 s .. 30 days */
    LL_REJECT_HOLD_NOT_FOUND,      /* no such hold (or not the asker's to see) */
    LL_REJECT_HOLD_NOT_OPEN,       /* the hold was captured, released or expired already */
    LL_REJECT_HOLD_EXPIRED,        /* capture at or after the hold's expires_at */
    LL_REJECT_HOLD_NOT_DUE,        /* expire before the hold's expires_at (the system's sweep) */
    LL_REJECT_CAPTURE_EXCEEDS_HOLD, /* capture more than is held */
    LL_REJECT_COUNT
} ll_rejection_t;

/* "insufficient-funds" etc.; "" for LL_REJECT_NONE; NULL for an invalid value. */
const char *ll_rejection_slug(ll_rejection_t r);

/* A short English title for problem+json ("Insufficient funds"). */
const char *ll_rejection_title(ll_rejection_t r);

#endif
