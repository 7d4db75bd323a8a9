-- wrk script: GET a random path from the file given after "--" (one path per line), with the
-- bearer token given second.
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
local common = require "wrk_common"

function init(args)
    paths = common.lines(args[1])
    math.randomseed(os.time())
    headers = {["Authorization"] = "Bearer " .. args[2]}
end

function request()
    return wrk.format("GET", paths[math.random(#paths)], headers)
end

done = function(summary, latency) common.report(summary, latency) end
