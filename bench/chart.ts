// The benchmark's chart, as SVG written by hand: horizontal bars (median) with min-max whiskers,
// one panel per comparison, the figures before the cuts as pale bars, and each target as a red
// tick on its row. Hand-written because it is one static picture of a few dozen bars: a plotting
// library (Vega, for one, pulls in some sixty packages) would add more to every install than the
// whole chart is, and this output stays byte-stable, so a new run shows as a readable diff.
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

const WIDTH = 1000;
const LABEL_W = 330;
const VALUE_W = 190;
const PLOT_W = WIDTH - LABEL_W - VALUE_W - 20;
const ROW_H = 24;
const TITLE_H = 30;
const AXIS_H = 22;
const GAP = 16;

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

export function format(value: number, unit: string): string {
    if (unit === "ms") return `${Math.round(value)} ms`;
    if (unit === "MiB") return `${Math.round(value)} MiB`;
    if (unit === "min") return `${value.toFixed(1)} min`;
    return value < 10 ? `${value.toFixed(2)} s` : `${value.toFixed(1)} s`;
}

/** A round axis end at or above `max`. */
function niceMax(max: number): number {
    if (max <= 0) return 1;
    const p = 10 ** Math.floor(Math.log10(max));
    for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= max) return m * p;
    return 10 * p;
}

export function renderChart(title: string, subtitle: string, panels: readonly ChartPanel[]): string {
    const out: string[] = [];
    let y = 56;
    for (const panel of panels) {
        const values = panel.rows.flatMap((r) => [r.after?.max, r.before?.max, r.target].filter((v): v is number => v !== undefined && v > 0));
        const positive = panel.rows.flatMap((r) => [r.after?.min, r.before?.min].filter((v): v is number => v !== undefined && v > 0));
        const hi = panel.log ? 10 ** Math.ceil(Math.log10(Math.max(...values, 1e-3))) : niceMax(Math.max(...values, 0));
        const lo = panel.log ? 10 ** Math.floor(Math.log10(Math.min(...positive, hi / 10))) : 0;
        const x = (v: number) => {
            const f = panel.log ? (Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) : v / hi;
            return LABEL_W + Math.max(0, Math.min(1, f)) * PLOT_W;
        };
        out.push(`<text x="10" y="${y + 18}" class="panel">${escape(panel.title)}</text>`);
        y += TITLE_H;
        const top = y;
        panel.rows.forEach((row, i) => {
            const cy = y + i * ROW_H + ROW_H / 2;
            out.push(`<text x="${LABEL_W - 8}" y="${cy + 4}" class="label" text-anchor="end">${escape(row.label)}</text>`);
            if (row.before) {
                out.push(`<rect x="${LABEL_W}" y="${cy - 9}" width="${(x(row.before.median) - LABEL_W).toFixed(1)}" height="6" class="before"/>`);
            }
            if (row.after) {
                const s = row.after;
                out.push(`<rect x="${LABEL_W}" y="${cy - 2}" width="${(x(s.median) - LABEL_W).toFixed(1)}" height="10" class="bar"/>`);
                if (s.max > s.min) {
                    out.push(`<line x1="${x(s.min).toFixed(1)}" x2="${x(s.max).toFixed(1)}" y1="${cy + 3}" y2="${cy + 3}" class="whisker"/>`);
                }
            }
            if (row.target !== undefined) {
                out.push(`<line x1="${x(row.target).toFixed(1)}" x2="${x(row.target).toFixed(1)}" y1="${cy - 10}" y2="${cy + 10}" class="target"/>`);
            }
            const before = row.before ? `was ${format(row.before.median, panel.unit)}` : row.beforeNote ? `was ${short(row.beforeNote)}` : "";
            const now = row.after ? format(row.after.median, panel.unit) : short(row.note ?? "");
            out.push(`<text x="${WIDTH - VALUE_W - 10}" y="${cy + 4}" class="value">${escape(now)}</text>`);
            if (before) out.push(`<text x="${WIDTH - 10}" y="${cy + 4}" class="was" text-anchor="end">${escape(before.slice(0, 24))}</text>`);
        });
        y += panel.rows.length * ROW_H;
        // Axis: ends and a midpoint (or decades on a log axis).
        const ticks = panel.log ? decades(lo, hi) : [0, hi / 2, hi];
        out.push(`<line x1="${LABEL_W}" x2="${LABEL_W + PLOT_W}" y1="${y + 2}" y2="${y + 2}" class="axis"/>`);
        out.push(`<line x1="${LABEL_W}" x2="${LABEL_W}" y1="${top}" y2="${y + 2}" class="axis"/>`);
        for (const t of ticks) {
            out.push(`<text x="${x(t).toFixed(1)}" y="${y + 16}" class="tick" text-anchor="middle">${escape(format(t, panel.unit))}</text>`);
        }
        y += AXIS_H + GAP;
    }
    const legendY = y + 4;
    const height = legendY + 26;
    return [
        `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Helvetica, Arial, sans-serif">`,
        "<style>",
        ".title{font-size:17px;font-weight:bold;fill:#222}.subtitle{font-size:12px;fill:#555}.panel{font-size:14px;font-weight:bold;fill:#222}",
        ".label{font-size:12px;fill:#333}.value{font-size:12px;fill:#222;font-weight:bold}.was{font-size:11px;fill:#888}.tick{font-size:10px;fill:#666}",
        ".bar{fill:#3b6ea8}.before{fill:#c9c9c9}.whisker{stroke:#1d3a5c;stroke-width:1.5}.target{stroke:#c0392b;stroke-width:2}.axis{stroke:#999;stroke-width:1}",
        "</style>",
        `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
        `<text x="10" y="24" class="title">${escape(title)}</text>`,
        `<text x="10" y="42" class="subtitle">${escape(subtitle)}</text>`,
        ...out,
        `<rect x="10" y="${legendY}" width="18" height="10" class="bar"/><text x="34" y="${legendY + 9}" class="label">median now (line: min to max)</text>`,
        `<rect x="250" y="${legendY + 2}" width="18" height="6" class="before"/><text x="274" y="${legendY + 9}" class="label">median before the cuts</text>`,
        `<line x1="450" x2="450" y1="${legendY - 2}" y2="${legendY + 12}" class="target"/><text x="458" y="${legendY + 9}" class="label">target</text>`,
        `<text x="530" y="${legendY + 9}" class="label">&gt; x: stopped at the bench's time or memory limit</text>`,
        "</svg>",
        "",
    ].join("\n");
}

/** A limit hit, in a few characters: "stopped at 120 s" reads "> 120 s". */
function short(note: string): string {
    const time = /^stopped at (\d+) s$/.exec(note);
    if (time) return `> ${time[1]} s`;
    const mem = /^stopped at (\d+) MiB$/.exec(note);
    if (mem) return `> ${Number(mem[1]) / 1024} GiB`;
    return note.length > 24 ? `${note.slice(0, 23)}…` : note;
}

function decades(lo: number, hi: number): number[] {
    const out: number[] = [];
    for (let v = lo; v <= hi * 1.0001; v *= 10) out.push(v);
    return out;
}
