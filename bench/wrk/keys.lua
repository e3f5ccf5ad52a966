-- keys.lua - wrk load: GET /blocks/<key> walking a keys file round robin.
--
--   BE_KEYS=keys.txt wrk -t2 -c16 -d5s -s bench/wrk/keys.lua http://127.0.0.1:8480
--   wrk -t2 -c16 -d5s -s bench/wrk/keys.lua http://127.0.0.1:8480 -- keys.txt
--
-- Every key gets the same share, in file order; thread t starts (t - 1) * 0.618... of the way
-- round the file (the golden-ratio spread), so threads do not ask for the same key together. BE_PATH_PREFIX (default /blocks/)
-- and BE_WRK_REPORT=1 (one "be-wrk ..." line from done(), as in zipf.lua) work the same.

-- The shared parts live beside this file.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")

setup = common.setup
done = common.done

local reqs = {}
local nkeys = 0
local next_i = 1

function init(args)
   for _, p in ipairs(common.load_paths("keys.lua", args)) do
      table.insert(reqs, wrk.format("GET", p))
   end
   nkeys = #reqs
   local frac = (((thread_no or 1) - 1) * 0.6180339887) % 1
   next_i = math.floor(frac * nkeys) % nkeys + 1
end

function request()
   local req = reqs[next_i]
   next_i = next_i % nkeys + 1
   return req
end
