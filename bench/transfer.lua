-- wrk script: POST a 1-unit transfer between two different random accounts of the file given
-- after "--" (each funded beforehand), a fresh Idempotency-Key per request, the bearer token
-- given second.
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
    prefix = string.format("wrk-t-%d-%d-", os.time(), tid)
    counter = 0
    auth = "Bearer " .. args[2]
end

function request()
    counter = counter + 1
    local from = math.random(#accounts)
    local to = math.random(#accounts - 1)
    if to >= from then to = to + 1 end
    local body = string.format('{"from_account_id":"%s","to_account_id":"%s","amount_minor":1,"currency":"EUR"}',
        accounts[from], accounts[to])
    return wrk.format("POST", "/v1/transfers",
        {["Content-Type"] = "application/json", ["Idempotency-Key"] = prefix .. counter,
         ["Authorization"] = auth}, body)
end

done = function(summary, latency) common.report(summary, latency) end
