-- wrk script for the API benchmark: a random project per request, one scenario per run.
-- Environment: ZS_TOKEN, ZS_SCENARIO (writes|project|history|rewards|rewards_page), ZS_IDS
-- (file of ids).
local ids = {}
local token = os.getenv("ZS_TOKEN")
local scenario = os.getenv("ZS_SCENARIO")
for line in io.lines(os.getenv("ZS_IDS")) do
  if #line > 0 then ids[#ids + 1] = line end
end
local counter = 0
local reward_pages = tonumber(os.getenv("ZS_REWARD_PAGES") or "1")

request = function()
  counter = counter + 1
  local id = ids[math.random(#ids)]
  local headers = { ["Authorization"] = "Bearer " .. token }
  if scenario == "writes" then
    headers["Content-Type"] = "application/json"
    local body = string.format('{"occurred_on": "2025-12-31", "amount": "%d.00", "currency": "CNY"}',
      math.random(100, 10000000))
    return wrk.format("POST", "/projects/" .. id .. "/funds", headers, body)
  elseif scenario == "project" then
    return wrk.format("GET", "/projects/" .. id, headers)
  elseif scenario == "history" then
    return wrk.format("GET", "/projects/" .. id .. "/history", headers)
  elseif scenario == "rewards_page" then
    return wrk.format("GET", "/rewards/2023?page=" .. math.random(reward_pages) .. "&size=50", headers)
  else
    return wrk.format("GET", "/rewards/2023", headers)
  end
end

local failures = 0
response = function(status, headers, body)
  if status >= 400 then failures = failures + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "requests_per_s": %.1f, "p50_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f, "errors": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
