-- wrk script: card authorisations and their captures. Each thread places a 5-unit hold on a random
-- account of the file given after "--" and captures holds it placed before (3 of the 5 units;
-- the rest is released), alternating as answers come back: about one capture per hold. Fresh
-- Idempotency-Keys; the bearer token is given second. Accounts need funds first.
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local common = require "wrk_common"

setup = common.setup

function init(args)
    state = common.command_init(args, "h")
    pending = {} -- hold ids placed by this thread and not yet captured
    place_body = '{"amount_minor":5,"currency":"EUR","reference":"bench authorisation"}'
    capture_body = '{"amount_minor":3}'
end

function request()
    local headers = {["Content-Type"] = "application/json", ["Idempotency-Key"] = common.next_key(state),
                     ["Authorization"] = state.auth}
    local hold = table.remove(pending)
    if hold then return wrk.format("POST", "/v1/holds/" .. hold .. "/capture", headers, capture_body) end
    local account = state.accounts[math.random(#state.accounts)]
    return wrk.format("POST", "/v1/accounts/" .. account .. "/holds", headers, place_body)
end

function response(status, headers, body)
    if status == 201 and not body:find('"captured_minor"', 1, true) then
        local id = body:match('"hold_id":"([0-9a-f%-]+)"')
        if id then pending[#pending + 1] = id end
    end
end

done = function(summary, latency) common.report(summary, latency) end
