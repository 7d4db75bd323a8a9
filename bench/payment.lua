-- wrk script: POST a 3-leg payment (a payee, a second payee, a fee) from a random account of the
-- file given after "--" to three others, each request with a fresh Idempotency-Key and the
-- bearer token given second. Accounts need funds first (bench_system.py deposits them).
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local common = require "wrk_common"

setup = common.setup

function init(args)
    state = common.command_init(args, "p")
end

-- A random account other than a.
local function other(a)
    local n = #state.accounts
    local b = state.accounts[math.random(n)]
    while b == a and n > 1 do b = state.accounts[math.random(n)] end
    return b
end

local LEG = '{"from_account_id":"%s","to_account_id":"%s","amount_minor":%d,"currency":"EUR"}'

function request()
    local a = state.accounts[math.random(#state.accounts)]
    local body = '{"legs":[' .. string.format(LEG, a, other(a), 100) .. "," .. string.format(LEG, a, other(a), 50) ..
                 "," .. string.format(LEG, a, other(a), 1) .. '],"reference":"bench payment"}'
    return wrk.format("POST", "/v1/payments",
        {["Content-Type"] = "application/json", ["Idempotency-Key"] = common.next_key(state),
         ["Authorization"] = state.auth}, body)
end

done = function(summary, latency) common.report(summary, latency) end
