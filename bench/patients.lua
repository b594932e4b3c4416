-- wrk script: the diary's patients, for bench/load.py (which logs them in and runs it).
--
--   wrk -t1 -cN -dS --timeout 30s -s bench/patients.lua URL -- KIND USERS RATE SEED REPORT
--
-- KIND    checkin: POST /api/v1/checkins (a new client_id each, one in twenty with a
--         fever), expecting 201; today: GET /today, expecting 200; bare: GET /, 200
-- USERS   a file of logged-in patients, one a line: the Cookie header, a tab, the CSRF
--         token; the requests take the users in turn
-- RATE    requests per second for this wrk process, all connections together; each
--         request is due at its slot of a steady schedule and waits for it (0: none, each
--         connection sends its next request as soon as the last is answered)
-- SEED    for the random check-in values
-- REPORT  a JSON file written at the end: count, seconds, p50/p95/max latency (ms,
--         as wrk measures it: from sending the request to the end of the answer),
--         unexpected statuses and wrk's errors, and the requests sent late: later than
--         5 ms after their slot because every connection was still waiting for an
--         answer (their wait before sending is not in the latency, so it is counted here)
--
-- Phones send Accept-Encoding: gzip, and so does this script: the server compresses the
-- Today page as it would for a phone.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } diary_timespec;
  int clock_gettime(int clock_id, diary_timespec *tp);
]]
local timespec = ffi.new("diary_timespec")
local CLOCK_MONOTONIC = 1

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) * 1000 + tonumber(timespec.tv_nsec) / 1e6
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

-- per thread ---------------------------------------------------------------------------
local kind, users, next_user, interval, next_due
late, worst_late_ms, unexpected, report = 0, 0, 0, ""

function init(args)
  kind = args[1]
  users = {}
  for line in io.lines(args[2]) do
    local cookie, csrf = line:match("^(.-)\t(.*)$")
    table.insert(users, { cookie = cookie, csrf = csrf })
  end
  next_user = 1
  local rate = tonumber(args[3])
  interval = rate > 0 and 1000 / rate or 0
  math.randomseed(tonumber(args[4]))
  report = args[5]
  if kind == "bare" then
    wrk.headers["Accept-Encoding"] = "gzip"
    wrk.path = "/"
  end
end

local function hex(digits)
  local out = {}
  for i = 1, digits do
    out[i] = string.format("%x", math.random(0, 15))
  end
  return table.concat(out)
end

local function uuid4()
  return hex(8) .. "-" .. hex(4) .. "-4" .. hex(3) .. "-" ..
      string.format("%x", math.random(8, 11)) .. hex(3) .. "-" .. hex(12)
end

local function checkin_body()
  local temperature = math.floor((36.2 + math.random() * 1.2) * 10 + 0.5) / 10
  if math.random() < 0.05 then
    temperature = 38.6 -- a fever: an alert, and its e-mail in the outbox
  end
  return string.format(
    '{"client_id": "%s", "temperature_c": %.1f, "symptoms": {"asthenia": %d, ' ..
    '"arthralgia": %d}, "injection_site": {"diameter_cm": 1.0, "ulceration": false}, ' ..
    '"note": ""}', uuid4(), temperature, math.random(0, 2), math.random(0, 1))
end

function request()
  if kind == "bare" then
    return wrk.format()
  end
  local user = users[next_user]
  next_user = next_user % #users + 1
  if kind == "checkin" then
    return wrk.format("POST", "/api/v1/checkins", {
      ["Cookie"] = user.cookie,
      ["X-CSRFToken"] = user.csrf,
      ["Content-Type"] = "application/json",
      ["Accept-Encoding"] = "gzip",
    }, checkin_body())
  end
  return wrk.format("GET", "/today", { ["Cookie"] = user.cookie, ["Accept-Encoding"] = "gzip" })
end

function delay()
  if interval == 0 then
    return 0
  end
  local now = now_ms()
  if next_due == nil then
    next_due = now
  end
  local due = next_due
  next_due = next_due + interval
  local wait = due - now
  if wait < -5 then
    late = late + 1
    worst_late_ms = math.max(worst_late_ms, -wait)
  end
  return math.max(0, math.floor(wait + 0.5))
end

function response(status, headers, body)
  local expected = (kind == "checkin") and 201 or 200
  if status ~= expected then
    unexpected = unexpected + 1
  end
end

-- the main state, at the end ------------------------------------------------------------
function done(summary, latency, requests)
  local total_late, worst, bad, path = 0, 0, 0, nil
  for _, thread in ipairs(threads) do
    total_late = total_late + thread:get("late")
    worst = math.max(worst, thread:get("worst_late_ms"))
    bad = bad + thread:get("unexpected")
    path = thread:get("report")
  end
  local errors = summary.errors
  local out = assert(io.open(path, "w"))
  out:write(string.format(
    '{"requests": %d, "seconds": %.3f, "p50_ms": %.3f, "p95_ms": %.3f, "max_ms": %.3f, ' ..
    '"unexpected_status": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "timeouts": %d, "late": %d, "worst_late_ms": %.1f}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency.max / 1000, bad, errors.connect, errors.read,
    errors.write, errors.timeout, total_late, worst))
  out:close()
end
