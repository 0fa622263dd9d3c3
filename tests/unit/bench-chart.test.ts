// The bench's chart: the Vega-Lite specification built from the figures, and Vega's SVG of it.
import { describe, expect, it } from "vitest";
import { chartData, chartSpec, renderChart, xDomain, type ChartPanel } from "../../bench/chart";

const progression: ChartPanel = {
    title: "Full progression",
    unit: "s",
    rows: [
        { label: "pulumi up", after: { min: 15.3, median: 21.1, max: 23.9 }, before: { min: 50, median: 58.4, max: 60 }, target: 7.8 },
        { label: "kubectl", after: { min: 3.4, median: 3.9, max: 5.1 } },
        { label: "cyclonus", note: "stopped at 4096 MiB", beforeNote: "stopped at 120 s" },
    ],
};
const scaling: ChartPanel = {
    title: "netcheck scaling",
    unit: "s",
    log: true,
    rows: [
        { label: "10 namespaces", after: { min: 0.21, median: 0.25, max: 0.3 } },
        { label: "5,000 namespaces", after: { min: 9, median: 9.12, max: 9.5 }, target: 5 },
    ],
};

describe("chartData", () => {
    it("says each figure in its unit, with the median before the cuts, and a limit in a few characters", () => {
        expect(chartData(progression).map((d) => d.text)).toEqual(["21.1 s (was 58.4 s)", "3.90 s", "> 4 GiB (was > 120 s)"]);
    });

    it("keeps the rows in their order and draws no bar for a row without a figure", () => {
        const data = chartData(progression);
        expect(data.map((d) => d.order)).toEqual([0, 1, 2]);
        expect(data[0]).toMatchObject({ median: 21.1, min: 15.3, max: 23.9, before: 58.4, target: 7.8 });
        expect(data[2]).not.toHaveProperty("median");
    });
});

describe("xDomain", () => {
    it("starts a linear axis at zero and reaches past the longest bar", () => {
        const [lo, hi] = xDomain(progression);
        expect(lo).toBe(0);
        expect(hi).toBeGreaterThan(58.4);
    });

    it("spans whole decades on a log axis", () => {
        expect(xDomain(scaling)).toEqual([0.1, 10]);
    });
});

describe("chartSpec and renderChart", () => {
    it("has one panel per comparison, a log scale where asked, and the targets as ticks", () => {
        const spec = chartSpec("t", "s", [progression, scaling]) as { vconcat: { layer: { mark: { type: string }; encoding: { x?: { scale?: { type: string } } } }[] }[] };
        expect(spec.vconcat).toHaveLength(2);
        const scaleOf = (i: number) => spec.vconcat[i]!.layer[1]!.encoding.x!.scale!.type;
        expect([scaleOf(0), scaleOf(1)]).toEqual(["linear", "log"]);
        expect(spec.vconcat[0]!.layer.map((l) => l.mark.type)).toEqual(["bar", "bar", "rule", "tick", "text"]);
    });

    it("renders SVG with every label and figure, byte for byte the same each time", async () => {
        const a = await renderChart("env-progression: npm run bench", "2 cores", [progression, scaling]);
        const b = await renderChart("env-progression: npm run bench", "2 cores", [progression, scaling]);
        expect(a).toMatch(/^<svg /);
        for (const text of ["pulumi up", "21.1 s (was 58.4 s)", "&gt; 4 GiB (was &gt; 120 s)", "5,000 namespaces"]) expect(a).toContain(text);
        expect(a).toBe(b);
    });
});
