-- wrk script: each request carries a token from TOKENS_FILE, picked at random
-- (MODE=random, the "pool" workload) or in order (MODE=sequential, to fill the cache).
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do tokens[#tokens + 1] = line end
local sequential = os.getenv("MODE") == "sequential"
local next_index = 0

request = function()
  local token
  if sequential then
    next_index = next_index % #tokens + 1
    token = tokens[next_index]
  else
    token = tokens[math.random(#tokens)]
  end
  -- No path given: the one on wrk's command line (/health for the baseline, /admin).
  return wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. token })
end
