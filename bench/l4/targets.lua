-- wrk: spreads its threads over the addresses in WRK_TARGETS, one per thread in turn, so
-- the direct reference reaches every server as a balancer would; without it, every thread
-- uses the URL's host.
local targets = {}
for address in string.gmatch(os.getenv("WRK_TARGETS") or "", "[^,]+") do
  targets[#targets + 1] = address
end
local started = 0

function setup(thread)
  if #targets > 0 then
    started = started + 1
    thread.addr = wrk.lookup(targets[(started - 1) % #targets + 1], "80")[1]
  end
end
