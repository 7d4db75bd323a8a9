-- wrk script: POST a 1-unit deposit to a random account of the file given after "--", each
-- request with a fresh Idempotency-Key and the bearer token given second.
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local common = require "wrk_common"

setup = common.setup

function init(args)
    state = common.command_init(args, "")
    body = '{"amount_minor":1,"currency":"EUR"}'
end

function request()
    local account = state.accounts[math.random(#state.accounts)]
    return wrk.format("POST", "/v1/accounts/" .. account .. "/deposits",
        {["Content-Type"] = "application/json", ["Idempotency-Key"] = common.next_key(state),
         ["Authorization"] = state.auth}, body)
end

done = function(summary, latency) common.report(summary, latency) end
