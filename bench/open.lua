-- wrk script: POST /v1/accounts (EUR, a new owner each), each request with a fresh
-- Idempotency-Key; the file given after "--" is unused (wrk_common's argument order), the
-- bearer token comes second.
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local common = require "wrk_common"

setup = common.setup

function init(args)
    state = {prefix = string.format("open-%d-%d-", os.time(), tid), counter = 0, auth = "Bearer " .. args[2]}
end

function request()
    local key = common.next_key(state)
    return wrk.format("POST", "/v1/accounts",
        {["Content-Type"] = "application/json", ["Idempotency-Key"] = key, ["Authorization"] = state.auth},
        '{"owner":"' .. key .. '","currency":"EUR"}')
end

done = function(summary, latency) common.report(summary, latency) end
