-- wrk script: POST a 1-unit deposit to a random account of the file given after "--", each
-- request with a fresh Idempotency-Key and the bearer token given second. done() prints one JSON line for bench_commands.py.
local threads = {}

function setup(thread)
    thread:set("tid", #threads + 1)
    table.insert(threads, thread)
end

function init(args)
    accounts = {}
    for line in io.lines(args[1]) do accounts[#accounts + 1] = line end
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

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        '{"requests":%d,"duration_us":%d,"non2xx":%d,"socket_errors":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d}\n',
        summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end
