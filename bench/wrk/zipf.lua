-- zipf.lua - wrk load: GET /blocks/<key> with keys drawn by Zipf rank from a keys file.
--
--   BE_KEYS=keys.txt BE_ZIPF_S=1.0 wrk -t2 -c16 -d5s -s bench/wrk/zipf.lua http://127.0.0.1:8480
--   wrk -t2 -c16 -d5s -s bench/wrk/zipf.lua http://127.0.0.1:8480 -- keys.txt [s]
--
-- The key on line r of the file has rank r and is chosen with probability proportional to
-- 1 / r^s (s = BE_ZIPF_S, default 1.0). s = 0 draws every key uniformly. The draw uses a
-- precomputed cumulative table and a binary search, so a request costs O(log N). Each thread
-- seeds its generator from BE_SEED (default 1) and its own number, so runs repeat.
--
-- Scans mixed in, as tools/cachesim --scan makes them: with BE_SCAN_KEYS=FILE and BE_SCAN_LEN=L,
-- the requests run in cycles of 2L Zipf draws, then 2L requests alternating the scan file's
-- next key (in file order, from the top again at its end) and a Zipf draw, so a quarter of the
-- requests are scan keys. Use it with one thread (-t1), so that one sequence drives every
-- connection.
--
-- Other environment: BE_PATH_PREFIX (default /blocks/). With BE_WRK_REPORT=1, done() prints
-- one machine-readable line for bench/run:
--   be-wrk requests=N duration_us=N bytes=N errors=N non2xx=N p50_us=N p99_us=N max_us=N
-- Otherwise the script prints nothing of its own.

-- The shared parts live beside this file.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(here .. "common.lua")

setup = common.setup
done = common.done

local paths = {}
local cdf = nil
local reqs = {}
local nkeys = 0
local scan_paths = nil
local scan_len = 0
local scan_next = 1
local sent = 0

function init(args)
   local s = tonumber(os.getenv("BE_ZIPF_S") or args[2] or "1.0")
   if not s or s < 0 then
      common.fail("zipf.lua", "BE_ZIPF_S must be a number >= 0")
   end
   paths = common.load_paths("zipf.lua", args)
   nkeys = #paths
   if s > 0 then
      cdf = {}
      local sum = 0
      for r = 1, nkeys do
         sum = sum + r ^ -s
         cdf[r] = sum
      end
      for r = 1, nkeys do
         cdf[r] = cdf[r] / sum
      end
      cdf[nkeys] = 1.0
   end
   local scan_file = os.getenv("BE_SCAN_KEYS")
   if scan_file and scan_file ~= "" then
      scan_len = tonumber(os.getenv("BE_SCAN_LEN") or "")
      if not scan_len or scan_len < 1 or scan_len ~= math.floor(scan_len) then
         common.fail("zipf.lua", "BE_SCAN_LEN must be a whole number >= 1 with BE_SCAN_KEYS")
      end
      scan_paths = common.read_paths("zipf.lua", scan_file)
   end
   local seed = tonumber(os.getenv("BE_SEED") or "1") or 1
   math.randomseed(seed * 7919 + (thread_no or 0))
end

-- The smallest rank r with cdf[r] >= u.
local function rank_of(u)
   local lo, hi = 1, nkeys
   while lo < hi do
      local mid = math.floor((lo + hi) / 2)
      if cdf[mid] < u then
         lo = mid + 1
      else
         hi = mid
      end
   end
   return lo
end

-- Whether the next request is a scan's: the odd places of each cycle's second half.
local function scan_turn()
   local at = sent % (4 * scan_len)
   sent = sent + 1
   return at >= 2 * scan_len and at % 2 == 0
end

function request()
   if scan_paths and scan_turn() then
      local path = scan_paths[scan_next]
      scan_next = scan_next % #scan_paths + 1
      return wrk.format("GET", path)
   end
   local r
   if cdf then
      r = rank_of(math.random())
   else
      r = math.random(nkeys)
   end
   local req = reqs[r]
   if not req then
      req = wrk.format("GET", paths[r])
      reqs[r] = req
   end
   return req
end
