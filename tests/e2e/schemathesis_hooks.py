"""schemathesis hooks for tests/e2e/test_schemathesis.py (SCHEMATHESIS_HOOKS=schemathesis_hooks).

Two answers the contract gives on purpose are not failures; everything else stays one:
- 503 not-yet-visible: GET ?min_version= on a version the read model has not reached (random
  account ids never reach one). docs/errors.md; the server asks the client to retry.
- 400 for money written as a float: JSON Schema counts 5.0 as an integer, ledgerline refuses a
  float literal for amount_minor (money is never floating point, docs/domain.md).
"""
import schemathesis


def _text(response):
    try:
        return response.text
    except Exception:  # a body that is not text
        return ""


def _float_money(body):
    return isinstance(body, dict) and isinstance(body.get("amount_minor"), float)


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Returns False for the failures above, True (keep) for every other."""
    text = _text(response)
    if failure.code == "ST101" and response.status_code == 503 and "/problems/not-yet-visible" in text:
        return False
    if (failure.code == "ST202" and response.status_code == 400 and _float_money(case.body)
            and "amount_minor" in text):
        return False
    return True

