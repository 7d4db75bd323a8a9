-- What bench/'s wrk scripts share: reading a file of lines, and the one JSON line done() prints
-- for bench/ll_bench.py (throughput, non-2xx and socket errors, latency percentiles).
local M = {}

function M.lines(path)
    local out = {}
    for line in io.lines(path) do out[#out + 1] = line end
    return out
end

function M.report(summary, latency)
    local e = summary.errors
    io.write(string.format(
        '{"requests":%d,"duration_us":%d,"non2xx":%d,"socket_errors":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d}\n',
        summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end

return M
