-- keys.lua - wrk load: GET /blocks/<key> walking a keys file round robin.
--
--   BE_KEYS=keys.txt wrk -t2 -c16 -d5s -s bench/wrk/keys.lua http://127.0.0.1:8480
--   wrk -t2 -c16 -d5s -s bench/wrk/keys.lua http://127.0.0.1:8480 -- keys.txt
--
-- Every key gets the same share, in file order; thread t starts (t - 1) * 0.618... of the way
-- round the file (the golden-ratio spread), so threads do not ask for the same key together. BE_PATH_PREFIX (default /blocks/)
-- and BE_WRK_REPORT=1 (one "be-wrk ..." line from done(), as in zipf.lua) work the same.

-- A clean message and exit status 2 instead of wrk's "PANIC: unprotected error".
local function fail(msg)
   io.stderr:write("keys.lua: " .. msg .. "\n")
   os.exit(2)
end

local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("thread_no", counter)
end

local reqs = {}
local nkeys = 0
local next_i = 1

function init(args)
   local path = os.getenv("BE_KEYS") or args[1]
   if not path or path == "" then
      fail("set BE_KEYS or pass the keys file after --")
   end
   local f, err = io.open(path, "r")
   if not f then
      fail("cannot open keys file: " .. tostring(err))
   end
   local prefix = os.getenv("BE_PATH_PREFIX") or "/blocks/"
   for line in f:lines() do
      local key = line:match("^%s*(%x+)%s*$")
      if key then
         table.insert(reqs, wrk.format("GET", prefix .. key:lower()))
      end
   end
   f:close()
   nkeys = #reqs
   if nkeys == 0 then
      fail("no keys in " .. path)
   end
   local frac = (((thread_no or 1) - 1) * 0.6180339887) % 1
   next_i = math.floor(frac * nkeys) % nkeys + 1
end

function request()
   local req = reqs[next_i]
   next_i = next_i % nkeys + 1
   return req
end

function done(summary, latency, requests)
   if os.getenv("BE_WRK_REPORT") ~= "1" then
      return
   end
   local e = summary.errors
   io.write(string.format(
      "be-wrk requests=%d duration_us=%d bytes=%d errors=%d non2xx=%d p50_us=%d p99_us=%d max_us=%d\n",
      summary.requests, summary.duration, summary.bytes,
      e.connect + e.read + e.write + e.timeout, e.status,
      latency:percentile(50), latency:percentile(99), latency.max))
end
