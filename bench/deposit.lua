-- wrk script: POST a 1-unit deposit to a random account of the file given after "--", each
-- request with a fresh Idempotency-Key and the bearer token given second.
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local common = require "wrk_common"
local threads = {}

function setup(thread)
    thread:set("tid", #threads + 1)
    table.insert(threads, thread)
end

function init(args)
    accounts = common.lines(args[1])
    math.randomseed(os.time() * 1000 + tid)
    prefix = string.format("wrk-%d-%d-", os.time(), tid)
    counter = 0
    body = '{"amount_minor":1,"currency":"EUR"}'
    auth = "Bearer " .. args[2]
end

function request()
    counter = counter + 1
    local account = accounts[math.random(#accounts)]
    return wrk.format("POST", "/v1/accounts/" .. account .. "/deposits",
        {["Content-Type"] = "application/json", ["Idempotency-Key"] = prefix .. counter,
         ["Authorization"] = auth}, body)
end

done = function(summary, latency) common.report(summary, latency) end
