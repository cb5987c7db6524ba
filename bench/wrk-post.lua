-- wrk script for `npm run bench`: POSTs one prebuilt KServe v2 request body and prints a RESULT line.
local f = assert(io.open(os.getenv("MLSTACK_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*all")
f:close()
wrk.headers["Content-Type"] = os.getenv("MLSTACK_CONTENT_TYPE")
local hcl = os.getenv("MLSTACK_HEADER_LENGTH")
if hcl ~= nil and hcl ~= "" then
  wrk.headers["Inference-Header-Content-Length"] = hcl
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %.4f %.4f %d\n", summary.requests, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.status + e.timeout))
end
