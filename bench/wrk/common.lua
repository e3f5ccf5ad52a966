-- common.lua - what bench/wrk/zipf.lua and keys.lua share: a clean failure, thread numbers,
-- reading a keys file into request paths, and the machine-readable report of done().
-- Loaded with dofile() from the directory of the script that uses it.

local M = {}

-- A clean message and exit status 2 instead of wrk's "PANIC: unprotected error".
function M.fail(name, msg)
   io.stderr:write(name .. ": " .. msg .. "\n")
   os.exit(2)
end

-- setup() for wrk: numbers the threads 1, 2, ... (visible as thread_no in each thread).
local counter = 0
function M.setup(thread)
   counter = counter + 1
   thread:set("thread_no", counter)
end

-- The keys file (BE_KEYS, or the first script argument) as a list of request paths
-- (BE_PATH_PREFIX, default /blocks/, then the lower-case hex key), in file order.
function M.load_paths(name, args)
   local path = os.getenv("BE_KEYS") or args[1]
   if not path or path == "" then
      M.fail(name, "set BE_KEYS or pass the keys file after --")
   end
   return M.read_paths(name, path)
end

-- The keys file at path as request paths, as load_paths() makes them.
function M.read_paths(name, path)
   local f, err = io.open(path, "r")
   if not f then
      M.fail(name, "cannot open keys file: " .. tostring(err))
   end
   local prefix = os.getenv("BE_PATH_PREFIX") or "/blocks/"
   local paths = {}
   for line in f:lines() do
      local key = line:match("^%s*(%x+)%s*$")
      if key then
         table.insert(paths, prefix .. key:lower())
      end
   end
   f:close()
   if #paths == 0 then
      M.fail(name, "no keys in " .. path)
   end
   return paths
end

-- done() for wrk: with BE_WRK_REPORT=1, one line for the bench scripts:
--   be-wrk requests=N duration_us=N bytes=N errors=N non2xx=N p50_us=N p99_us=N max_us=N
function M.done(summary, latency, requests)
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

return M
