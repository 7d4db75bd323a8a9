-- What bench/'s wrk scripts share: reading a file of lines, numbering the threads, a command
-- script's per-thread state, and the one JSON line done() prints for bench/ll_bench.py
-- (throughput, non-2xx and socket errors, latency percentiles).
local M = {}
local threads = {}

function M.lines(path)
    local out = {}
    for line in io.lines(path) do out[#out + 1] = line end
    return out
end

-- wrk's setup(): gives each thread its number, tid, for seeds and Idempotency-Keys.
function M.setup(thread)
    thread:set("tid", #threads + 1)
    table.insert(threads, thread)
end

-- A command script's init(): the accounts of the file given first after "--", a random seed
-- and an Idempotency-Key prefix of this thread's own (tag tells the scripts apart), and the
-- bearer token given second.
function M.command_init(args, tag)
    math.randomseed(os.time() * 1000 + tid)
    return {accounts = M.lines(args[1]), prefix = string.format("wrk-%s%d-%d-", tag, os.time(), tid), counter = 0,
            auth = "Bearer " .. args[2]}
end

-- The next fresh Idempotency-Key of a command script's state.
function M.next_key(state)
    state.counter = state.counter + 1
    return state.prefix .. state.counter
end

function M.report(summary, latency)
    local e = summary.errors
    io.write(string.format(
        '{"requests":%d,"duration_us":%d,"non2xx":%d,"socket_errors":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d}\n',
        summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end

return M
