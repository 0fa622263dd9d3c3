import { it } from "vitest";
import { monitorEventLoopDelay } from "node:perf_hooks";
import * as os from "node:os";
it("lag", async () => {
  const h = monitorEventLoopDelay({ resolution: 10 }); h.enable();
  const loads: number[] = [];
  for (let i = 0; i < 30; i++) { await new Promise(r => setTimeout(r, 1000)); loads.push(os.loadavg()[0]!); }
  h.disable();
  console.log("LAG max ms", h.max / 1e6, "p99", h.percentile(99) / 1e6, "load", loads.join(","));
}, 60000);
