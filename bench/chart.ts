// The benchmark's chart: a Vega-Lite specification built from the figures (a pure function,
// tested), rendered to SVG by Vega in this process (no browser, no canvas). One panel per
// comparison: the median as a bar with a min-max line, the median before the cuts as a pale bar,
// each target as a red tick on its row, and the figure in words at the right. The same figures
// give the same SVG, so a new run shows as a readable diff.
// vega-lite ships its types for ESM resolution only; the project resolves as CommonJS (node10).
import type { TopLevelSpec } from "vega-lite" with { "resolution-mode": "import" };
import type { Spec as VegaSpec } from "vega";
/** The one function used from vega-lite, typed here because its module resolves only as ESM. */
interface VegaLite {
    compile(spec: TopLevelSpec): { spec: VegaSpec };
}
import type { Stats } from "./lib";

export interface ChartRow {
    readonly label: string;
    readonly after?: Stats;
    readonly before?: Stats;
    /** A bound the median must stay within. */
    readonly target?: number;
    /** Shown instead of a bar when there is no figure (a tool missing, a limit hit). */
    readonly note?: string;
    readonly beforeNote?: string;
}

export interface ChartPanel {
    readonly title: string;
    readonly unit: string;
    /** Logarithmic axis, for figures spanning orders of magnitude. */
    readonly log?: boolean;
    readonly rows: readonly ChartRow[];
}

const PLOT_W = 420;
const ROW_H = 24;
const COLOURS = { now: "#3b6ea8", before: "#c9c9c9", whisker: "#1d3a5c", target: "#c0392b" } as const;

export function format(value: number, unit: string): string {
    if (unit === "ms") return `${Math.round(value)} ms`;
    if (unit === "MiB") return `${Math.round(value)} MiB`;
    if (unit === "min") return `${value.toFixed(1)} min`;
    return value < 10 ? `${value.toFixed(2)} s` : `${value.toFixed(1)} s`;
}

/** A limit hit, in a few characters: "stopped at 120 s" reads "> 120 s". */
function short(note: string): string {
    const time = /^stopped at (\d+) s$/.exec(note);
    if (time) return `> ${time[1]} s`;
    const mem = /^stopped at (\d+) MiB$/.exec(note);
    if (mem) return `> ${Number(mem[1]) / 1024} GiB`;
    return note.length > 24 ? `${note.slice(0, 23)}…` : note;
}

/** One row of the chart's data: what each layer draws, already in the panel's unit. */
export interface ChartDatum {
    readonly label: string;
    readonly order: number;
    readonly median?: number;
    readonly min?: number;
    readonly max?: number;
    readonly before?: number;
    readonly target?: number;
    /** The figure in words: the median now, or why there is none, and the median before. */
    readonly text: string;
}

export function chartData(panel: ChartPanel): ChartDatum[] {
    return panel.rows.map((row, order) => {
        const now = row.after ? format(row.after.median, panel.unit) : short(row.note ?? "");
        const was = row.before ? format(row.before.median, panel.unit) : row.beforeNote ? short(row.beforeNote) : undefined;
        return {
            label: row.label,
            order,
            ...(row.after ? { median: row.after.median, min: row.after.min, max: row.after.max } : {}),
            ...(row.before ? { before: row.before.median } : {}),
            ...(row.target !== undefined ? { target: row.target } : {}),
            text: was === undefined ? now : `${now} (was ${was})`,
        };
    });
}

/** The x scale: from zero on a linear axis; whole decades around every figure on a log axis. */
export function xDomain(panel: ChartPanel): [number, number] {
    const all = panel.rows.flatMap((r) => [r.after?.min, r.after?.max, r.before?.median, r.target]).filter((v): v is number => v !== undefined && v > 0);
    const max = Math.max(...all, panel.log ? 1e-3 : 1);
    if (!panel.log) return [0, max * 1.05];
    const min = Math.min(...all, max / 10);
    return [10 ** Math.floor(Math.log10(min)), 10 ** Math.ceil(Math.log10(max))];
}

function panelSpec(panel: ChartPanel) {
    const y = { field: "label", type: "nominal", sort: { field: "order", op: "min" }, title: null } as const;
    const domain = xDomain(panel);
    // A bar on a log axis has no zero to start from: it starts at the axis' lower end.
    const base = panel.log ? { x2: { datum: domain[0] } } : {};
    const x = (field: string) => ({
        field,
        type: "quantitative",
        title: panel.unit,
        scale: { type: panel.log ? "log" : "linear", domain, nice: false },
    }) as const;
    const has = (field: string) => ({ filter: `isValid(datum.${field})` }) as const;
    return {
        title: { text: panel.title, anchor: "start", fontSize: 14 },
        width: PLOT_W,
        height: panel.rows.length * ROW_H,
        data: { values: chartData(panel) },
        encoding: { y },
        layer: [
            { transform: [has("before")], mark: { type: "bar", color: COLOURS.before, size: 6, yOffset: -5 }, encoding: { x: x("before"), ...base } },
            { transform: [has("median")], mark: { type: "bar", color: COLOURS.now, size: 10, yOffset: 3 }, encoding: { x: x("median"), ...base } },
            { transform: [has("min")], mark: { type: "rule", color: COLOURS.whisker, strokeWidth: 1.5, yOffset: 3 }, encoding: { x: x("min"), x2: { field: "max" } } },
            { transform: [has("target")], mark: { type: "tick", color: COLOURS.target, thickness: 2, size: 20 }, encoding: { x: x("target") } },
            { mark: { type: "text", align: "left", dx: 8, fontWeight: "bold" }, encoding: { x: { value: PLOT_W }, text: { field: "text" } } },
        ],
    };
}

/** The whole chart as a Vega-Lite specification. */
export function chartSpec(title: string, subtitle: string, panels: readonly ChartPanel[]): TopLevelSpec {
    return {
        $schema: "https://vega.github.io/schema/vega-lite/v6.json",
        title: { text: title, subtitle: [subtitle, "bar: median now, line: min to max; pale bar: median before the cuts; red tick: target; > x: stopped at the bench's limit"], anchor: "start" },
        background: "#ffffff",
        padding: 12,
        config: { font: "Helvetica, Arial, sans-serif", view: { stroke: null }, axis: { labelFontSize: 11 }, axisY: { labelLimit: 400 } },
        vconcat: panels.map(panelSpec),
        spacing: 24,
    } as TopLevelSpec;
}

/** The chart as SVG. Vega and Vega-Lite are loaded here only: the bench's other paths never need them. */
export async function renderChart(title: string, subtitle: string, panels: readonly ChartPanel[]): Promise<string> {
    const vegaLite: string = "vega-lite"; // a plain string: its types do not resolve here (above)
    const [vl, vega] = await Promise.all([import(vegaLite) as Promise<VegaLite>, import("vega")]);
    const { spec } = vl.compile(chartSpec(title, subtitle, panels));
    const view = new vega.View(vega.parse(spec), { renderer: "none" });
    try {
        return (await view.toSVG()) + "\n";
    } finally {
        view.finalize();
    }
}
