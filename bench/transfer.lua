-- wrk script: POST a 1-unit transfer between two different random accounts of the file given
-- after "--" (each funded beforehand), a fresh Idempotency-Key per request, the bearer token
-- given second.
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local common = require "wrk_common"

setup = common.setup

function init(args)
    state = common.command_init(args, "t-")
end

function request()
    local accounts = state.accounts
    local from = math.random(#accounts)
    local to = math.random(#accounts - 1)
    if to >= from then to = to + 1 end
    local body = string.format('{"from_account_id":"%s","to_account_id":"%s","amount_minor":1,"currency":"EUR"}',
        accounts[from], accounts[to])
    return wrk.format("POST", "/v1/transfers",
        {["Content-Type"] = "application/json", ["Idempotency-Key"] = common.next_key(state),
         ["Authorization"] = state.auth}, body)
end

done = function(summary, latency) common.report(summary, latency) end
