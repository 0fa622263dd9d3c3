// `npm run bench`: the project's speed measured against what users would pick instead, on this
// machine, several runs each, min / median / max. Writes bench/results.json and bench/chart.svg.
//
//   npm run bench                                   every scenario, 3 runs (about 15 minutes warm)
//   npm run bench -- --runs 5 --only cli,netcheck   some scenarios, more runs
//   npm run bench -- --repo ../old --label before   the same harness on another checkout; its
//                  [--note "commit 8635a62"]        figures are kept beside this one's
//   npm run bench -- --unit                         also time the unit suite (npm test) once
//   npm run bench -- --markdown                     print results.json as docs/performance.md's table
//   npm run bench -- --render                       judge results.json again and redraw the chart
//
// Scenarios: progression (pulumi vs the seed's kubectl pipeline vs Helm, simulated nodes), real
// (the same progression on real pods: the machine's one real node, which must be free; the
// machine is compared before and after), nochange (no-change up vs an empty preview), smoke (the
// gate's overhead), failure (rollout end to failed up), cli (start to first request), netcheck
// (scaling, against cyclonus), toolchain (build times), release (what the live switch adds to a
// passing up; progression rollback to the previous revision).
// Ratios are taken between figures of the same run.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { renderChart, type ChartPanel, type ChartRow } from "./chart";
import { kubeconfigIn, timeCliStart } from "./cli-start";
import { clusterScenarios, type Helm, realScenario, startCluster, stopCluster } from "./cluster";
import { realNodeBusy } from "./host";
import { judge, log, machine, REPO, Recorder, RESULTS, stats, timed, type Measure, type Target, type TargetResult } from "./lib";
import { netcheckScenarios, SIZES } from "./netcheck";

const SCENARIOS = ["progression", "real", "nochange", "smoke", "failure", "release", "cli", "netcheck", "toolchain"] as const;
const CLUSTER_SCENARIOS = new Set(["progression", "nochange", "smoke", "failure", "release"]);

const TARGETS: Target[] = [
    {
        id: "progression-vs-kubectl",
        what: "full progression at most 2x the seed's kubectl pipeline",
        measure: "progression.pulumi",
        against: "progression.kubectl",
        ratio: 2,
    },
    { id: "progression-vs-helm", what: "full progression no slower than Helm", measure: "progression.pulumi", against: "progression.helm", ratio: 1 },
    {
        id: "real-progression-vs-helm",
        what: "full progression on real pods no slower than Helm",
        measure: "real.progression.pulumi",
        against: "real.progression.helm",
        ratio: 1,
    },
    ...(["dev", "staging", "prod"] as const).map((env) => ({
        id: `nochange-${env}`,
        what: `no-change up (${env}) at most 1.5x an empty preview`,
        measure: `nochange.up.${env}`,
        against: "preview.empty",
        ratio: 1.5,
    })),
    ...(["dev", "staging", "prod"] as const).map((env) => ({
        id: `smoke-${env}`,
        what: `smoke gate on a healthy app (${env}): the checks' step in up at most 0.5 s`,
        measure: `smoke.step.${env}`,
        limit: 0.5,
    })),
    ...(["dev", "staging", "prod"] as const).map((env) => ({
        id: `switch-${env}`,
        what: `live switch in a passing up (${env}): checks passed to LiveSwitch done at most 1 s`,
        measure: `switch.added.${env}`,
        limit: 1,
    })),
    // Measured on prod, the environment a rollback is for. rollback.recorded (until the CLI's
    // recording pulumi up ends) has no target: live traffic is back by then, and the up's time is
    // that of any update of the stack, which the progression and no-change figures cover.
    { id: "rollback-live", what: "progression rollback (prod): live traffic on the previous revision within 10 s", measure: "rollback.live", limit: 10 },
    { id: "failure", what: "a deterministic break fails up within 3 s of the rollout", measure: "failure.afterRollout", limit: 3 },
    { id: "cli-smoke", what: "progression smoke: start to first request at most 0.3 s", measure: "cli.smoke.firstRequest", limit: 300 },
    { id: "cli-netcheck", what: "progression netcheck: start to first request at most 0.3 s", measure: "cli.netcheck.firstRequest", limit: 300 },
    { id: "netcheck-time", what: "netcheck on 1,000 namespaces / 5,000 workloads in at most 5 s", measure: "netcheck.1000.time", limit: 5 },
    { id: "netcheck-memory", what: "netcheck on 1,000 namespaces / 5,000 workloads under 1 GiB", measure: "netcheck.1000.memory", limit: 1024 },
    { id: "unit", what: "unit suite (npm test) at most 20 s", measure: "unit.suite", limit: 20 },
    { id: "toolchain-cold", what: "cold toolchain build at most 20 min", measure: "toolchain.cold", limit: 20 * 60 },
];

interface LabelResult {
    readonly measuredAt: string;
    readonly repo: string;
    readonly commit: string;
    readonly runs: number;
    readonly cluster?: string;
    /** What the checkout is, in words (e.g. the commit it was exported from). */
    readonly note?: string;
    readonly machine: Record<string, unknown>;
    readonly measures: Record<string, Measure & { stats?: ReturnType<typeof stats>; commit?: string; measuredAt?: string; loadAverage?: number }>;
    readonly targets: TargetResult[];
}

interface ResultsFile {
    readonly note: string;
    labels: Record<string, LabelResult>;
}

function commitOf(repo: string): string {
    try {
        const head = execFileSync("git", ["-C", repo, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
        const dirty = execFileSync("git", ["-C", repo, "status", "--porcelain"], { encoding: "utf8" }).trim() !== "";
        return dirty ? `${head}+changes` : head;
    } catch {
        return "unknown";
    }
}

/** The toolchain's build log: the latest build time of each part, and their sum. */
function toolchainFromLog(rec: Recorder): void {
    const cache = process.env["PROGRESSION_CACHE"] ?? path.join(process.env["XDG_CACHE_HOME"] ?? path.join(os.homedir(), ".cache"), "env-progression");
    const file = path.join(cache, "toolchain", "build-times.log");
    if (!fs.existsSync(file)) {
        rec.note("toolchain.cold", "cold toolchain build (sum of its parts, from build-times.log)", "s", `no ${file}: the toolchain was not built here`);
        return;
    }
    const latest = new Map<string, number>();
    for (const line of fs.readFileSync(file, "utf8").split("\n")) {
        const m = /^\S+\s+(\S+)\s+(\d+)s$/.exec(line.trim());
        if (m) latest.set(m[1]!, Number(m[2]));
    }
    for (const [part, s] of latest) rec.add(`toolchain.part.${part}`, `toolchain build: ${part} (latest, from build-times.log)`, "s", s);
    rec.add(
        "toolchain.cold",
        "cold toolchain build (sum of the latest build of each part)",
        "s",
        [...latest.values()].reduce((a, b) => a + b, 0),
    );
}

/** Helm for the progression scenarios (bench/helm.sh builds it once), and the version it reports. */
function buildHelm(): Helm | undefined {
    try {
        const bin = execFileSync(path.join(REPO, "bench", "helm.sh"), { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
        const version = execFileSync(bin, ["version", "--template", "{{.Version}}"], { encoding: "utf8" }).trim();
        log(`Helm ${version} (bench/helm.sh): ${bin}`);
        return { bin, version };
    } catch {
        log("Helm could not be built; the progression is compared with kubectl only");
        return undefined;
    }
}

/**
 * Kept as one function: the bench's steps in the order they run (arguments, toolchain, scenarios,
 * results, chart), read top to bottom.
 */
async function main(): Promise<number> {
    const { values } = parseArgs({
        options: {
            runs: { type: "string", default: "3" },
            only: { type: "string" },
            repo: { type: "string" },
            label: { type: "string", default: "after" },
            unit: { type: "boolean", default: false },
            "keep-cluster": { type: "boolean", default: false },
            "netcheck-sizes": { type: "string" },
            note: { type: "string" },
            markdown: { type: "boolean", default: false },
            render: { type: "boolean", default: false },
            help: { type: "boolean", short: "h", default: false },
        },
    });
    if (values.help) {
        process.stdout.write(
            fs
                .readFileSync(__filename, "utf8")
                .split("\n")
                .filter((l) => l.startsWith("//"))
                .map((l) => l.slice(3))
                .join("\n") + "\n",
        );
        return 0;
    }
    if (values.markdown || values.render) {
        if (!fs.existsSync(RESULTS)) throw new Error(`no ${RESULTS}: run the bench first`);
        const file = JSON.parse(fs.readFileSync(RESULTS, "utf8")) as ResultsFile;
        for (const [name, r] of Object.entries(file.labels)) file.labels[name] = { ...r, targets: judge(TARGETS, new Map(Object.entries(r.measures))) };
        if (values.render) {
            fs.writeFileSync(RESULTS, JSON.stringify(file, null, 2) + "\n");
            fs.writeFileSync(path.join(REPO, "bench", "chart.svg"), await chart(file));
        }
        process.stdout.write(values.markdown ? markdown(file) : table(file, "after"));
        return 0;
    }
    const runs = Number(values.runs);
    if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs '${values.runs}' is not a positive integer`);
    const only = new Set(values.only ? values.only.split(",").map((s) => s.trim()) : SCENARIOS);
    for (const s of only) if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`--only: unknown scenario '${s}'; known: ${SCENARIOS.join(", ")}`);
    // The real node serves one cluster at a time: refuse before anything runs, not after the
    // other scenarios' minutes.
    const busy = only.has("real") ? realNodeBusy() : undefined;
    if (busy) {
        log(`scenario real: not starting a real node: ${busy}`);
        return 1;
    }
    const repo = path.resolve(values.repo ?? REPO);
    const label = values.label;
    const work = path.join(REPO, ".local", "bench");
    fs.mkdirSync(work, { recursive: true });
    const rec = new Recorder();
    const info = machine();
    let failure: unknown;
    const clusterNodes: string[] = [];
    const helm = only.has("progression") || only.has("real") ? buildHelm() : undefined;

    if (only.has("toolchain")) {
        toolchainFromLog(rec);
        // Warm: everything built, so toolchain.sh only checks and prints. --check first, so a
        // missing part is reported rather than built (or waited for) inside the benchmark.
        const ready = (await timed(path.join(REPO, "toolchain", "toolchain.sh"), ["--check"])).code === 0;
        for (let r = 0; r < runs && ready; r++) {
            const t = await timed(path.join(REPO, "toolchain", "toolchain.sh"), ["--print-env"]);
            rec.add("toolchain.warm", "warm toolchain (toolchain/toolchain.sh --print-env, everything built)", "s", t.seconds);
        }
        if (!ready)
            rec.note("toolchain.warm", "warm toolchain (toolchain/toolchain.sh --print-env, everything built)", "s", "the toolchain is not (fully) built");
    }

    if (only.has("cli")) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-cli-"));
        // One run first that is not counted: tsx's transform cache is warm for every user but the first.
        await timeCliStart(kubeconfigIn(dir), repo);
        for (let r = 1; r <= Math.max(runs, 5); r++) {
            log(`cli start run ${r}`);
            const t = await timeCliStart(kubeconfigIn(dir), repo);
            rec.add("cli.smoke.firstRequest", "progression smoke: start to first request", "ms", t.smoke.firstRequestMs);
            rec.add("cli.smoke.exit", "progression smoke: start to exit (a healthy app, 1 pass)", "ms", t.smoke.exitMs);
            rec.add("cli.netcheck.firstRequest", "progression netcheck --kubeconfig: start to first request", "ms", t.netcheck.firstRequestMs);
            rec.add("cli.netcheck.exit", "progression netcheck --kubeconfig: start to exit", "ms", t.netcheck.exitMs);
        }
        fs.rmSync(dir, { recursive: true, force: true });
    }

    if (only.has("netcheck")) {
        const sizes = values["netcheck-sizes"] ? values["netcheck-sizes"].split(",").map(Number) : [...SIZES];
        let cyclonus: string | undefined;
        try {
            cyclonus = execFileSync(path.join(REPO, "toolchain", "oracle.sh"), { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
        } catch {
            log("cyclonus could not be built; netcheck is measured alone");
        }
        await netcheckScenarios(work, rec, { runs, repo, cyclonus, sizes });
    }

    if ([...only].some((s) => CLUSTER_SCENARIOS.has(s))) {
        const ctx = await startCluster(work);
        clusterNodes.push(ctx.nodes);
        try {
            // A failure keeps the figures so far: they are written below, and the exit code says it.
            await clusterScenarios(ctx, rec, {
                runs,
                repo,
                label,
                helm,
                failureRuns: only.has("failure") ? runs : 0,
                scenarios: only,
                keep: values["keep-cluster"],
            });
        } catch (err) {
            failure = err;
            log(`cluster scenarios stopped: ${err instanceof Error ? err.message : String(err)}`);
        } finally {
            await stopCluster(ctx, values["keep-cluster"]);
        }
    }

    if (only.has("real")) {
        // The cluster is deleted whatever happened, and the machine compared with before it started.
        let ctx: Awaited<ReturnType<typeof startCluster>> | undefined;
        try {
            ctx = await startCluster(work, "real");
            clusterNodes.push(`real pods: ${ctx.nodes}`);
            await realScenario(ctx, rec, { runs, repo, label, helm });
        } catch (err) {
            failure = err;
            log(`real-pods scenario stopped: ${err instanceof Error ? err.message : String(err)}`);
        }
        try {
            const changed = ctx ? await stopCluster(ctx, values["keep-cluster"]) : [];
            if (ctx && values["keep-cluster"]) log(`the real node stays up (--keep-cluster); delete it with PROGRESSION_CLUSTER=${ctx.cluster.name} cluster/cluster.sh down`);
            else if (changed.length > 0) {
                failure ??= new Error("the host is not as it was before the real node started");
                log(`the host is not as it was before the real node started:\n  ${changed.join("\n  ")}`);
            } else if (ctx) log("real node deleted; the host is as it was (iptables, ip6tables, ipsets, links, mounts)");
        } catch (err) {
            failure ??= err;
            log(`deleting the real-node cluster failed: ${err instanceof Error ? err.message : String(err)}`);
        }
    }

    if (values.unit) {
        log("unit suite (npm test), once");
        const t = await timed("npm", ["test"], { cwd: repo, env: process.env });
        if (t.code === 0) rec.add("unit.suite", "unit suite: npm test (unit, smoke, policy)", "s", t.seconds);
        else {
            rec.note("unit.suite", "unit suite: npm test (unit, smoke, policy)", "s", `npm test failed (exit ${t.code})`);
            log(`npm test failed (exit ${t.code}); its last lines:\n${(t.stdout + t.stderr).trimEnd().split("\n").slice(-40).join("\n")}`);
        }
    }

    // Merge into the results file: figures of other labels (before/after) are kept.
    const previous: ResultsFile = fs.existsSync(RESULTS) ? (JSON.parse(fs.readFileSync(RESULTS, "utf8")) as ResultsFile) : { note: "", labels: {} };
    const earlier = previous.labels[label];
    const measures: LabelResult["measures"] = { ...(earlier?.measures ?? {}) };
    const commit = commitOf(repo);
    const measuredAt = new Date().toISOString();
    const load = os.loadavg()[0]!;
    for (const [id, m] of rec.measures) {
        const st = stats(m.samples);
        // Each figure keeps when, on what and under which load it was taken: a label's figures may
        // come from several bench runs (--only).
        measures[id] = { ...m, ...(st ? { stats: st } : {}), commit, measuredAt, loadAverage: Math.round(load * 100) / 100 };
    }
    const all = new Map(Object.entries(measures));
    const result: LabelResult = {
        measuredAt: new Date().toISOString(),
        repo: path.relative(REPO, repo) || ".",
        commit,
        runs,
        ...(clusterNodes.length > 0 || earlier?.cluster ? { cluster: clusterNodes.length > 0 ? clusterNodes.join("; ") : earlier?.cluster } : {}),
        machine: info,
        measures,
        targets: judge(TARGETS, all),
    };
    const labels = { ...previous.labels, [label]: result };
    // Targets are judged again for every label, so all of them use the same definitions.
    for (const [name, r] of Object.entries(labels)) labels[name] = { ...r, targets: judge(TARGETS, new Map(Object.entries(r.measures))) };
    const file: ResultsFile = {
        note: "Written by `npm run bench` (bench/run.ts); each label is one harness run over one checkout. Times in the unit named; ratios use medians of the same run.",
        labels,
    };
    fs.writeFileSync(RESULTS, JSON.stringify(file, null, 2) + "\n");
    fs.writeFileSync(path.join(REPO, "bench", "chart.svg"), await chart(file));
    process.stdout.write(table(file, label));
    return failure === undefined ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
// Output

const fmt = (v: number | undefined, unit: string): string =>
    v === undefined ? "-" : unit === "ms" || unit === "MiB" ? `${Math.round(v)}` : v >= 100 ? v.toFixed(0) : v.toFixed(2);

/** The results of `label` (and, where present, the median of "before") as a plain-text table. */
export function table(file: ResultsFile, label: string): string {
    const now = file.labels[label];
    if (!now) return "";
    const before = label !== "before" ? file.labels["before"] : undefined;
    const rows = Object.values(now.measures).filter((m) => !m.id.startsWith("toolchain.part."));
    const head = ["scenario", "unit", "min", "median", "max", ...(before ? ["before (median)"] : [])];
    const lines = rows.map((m) => {
        const s = m.stats;
        const b = before?.measures[m.id];
        return [
            m.title,
            m.unit,
            s ? fmt(s.min, m.unit) : (m.note ?? "-"),
            s ? fmt(s.median, m.unit) : "",
            s ? fmt(s.max, m.unit) : "",
            ...(before ? [b?.stats ? fmt(b.stats.median, m.unit) : (b?.note ?? "-")] : []),
        ];
    });
    const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)));
    const render = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
    const out = [
        `${label}: ${now.commit} on ${String(now.machine["cpus"])} cores (${String(now.machine["cpuModel"])}), ${String(now.machine["memoryGiB"])} GiB, Node ${String(now.machine["node"])}; ${now.runs} runs${now.cluster ? `; cluster: ${now.cluster}` : ""}`,
        "",
        render(head),
        render(widths.map((w) => "-".repeat(w))),
        ...lines.map(render),
        "",
        "targets:",
        ...now.targets.map(
            (t) =>
                `  ${t.met === undefined ? "n/a " : t.met ? "met " : "MISS"}  ${t.what}${t.value !== undefined && t.bound !== undefined ? ` (${fmt(t.value, unitOf(now, t.measure))} vs ${fmt(t.bound, unitOf(now, t.measure))})` : t.note !== undefined ? ` (${t.note})` : ""}`,
        ),
        "",
    ];
    return out.join("\n");
}

const unitOf = (r: LabelResult, id: string) => r.measures[id]?.unit ?? "s";

/** docs/performance.md's table: after (min / median / max) beside before (median), then the targets. */
export function markdown(file: ResultsFile): string {
    const now = file.labels["after"];
    if (!now) return "";
    const before = file.labels["before"];
    const cell = (m: Measure & { stats?: ReturnType<typeof stats> }) =>
        m.stats ? `${fmt(m.stats.min, m.unit)} / **${fmt(m.stats.median, m.unit)}** / ${fmt(m.stats.max, m.unit)}` : (m.note ?? "-");
    const lines = ["| scenario | unit | now: min / **median** / max | before: median |", "|---|---|---|---|"];
    for (const m of Object.values(now.measures)) {
        if (m.id.startsWith("toolchain.part.")) continue;
        const b = before?.measures[m.id];
        lines.push(`| ${m.title} | ${m.unit} | ${cell(m)} | ${b?.stats ? fmt(b.stats.median, m.unit) : (b?.note ?? "-")} |`);
    }
    lines.push("", "| target | now | before |", "|---|---|---|");
    for (const t of now.targets) {
        const b = before?.targets.find((x) => x.id === t.id);
        const show = (r: TargetResult | undefined) =>
            r?.met === undefined
                ? "n/a"
                : r.note !== undefined
                  ? `**missed** (${r.note})`
                  : `${r.met ? "met" : "**missed**"} (${fmt(r.value, unitOf(now, r.measure))} vs ${fmt(r.bound, unitOf(now, r.measure))})`;
        lines.push(`| ${t.what} | ${show(t)} | ${show(b)} |`);
    }
    return lines.join("\n") + "\n";
}

/** Kept as one function: the chart's panels and rows, written out literally in the order they are drawn. */
function chart(file: ResultsFile): Promise<string> {
    const now = file.labels["after"] ?? Object.values(file.labels)[0]!;
    const before = file.labels["before"];
    const row = (id: string, label: string, target?: number): ChartRow => {
        const m = now.measures[id];
        const b = before?.measures[id];
        return {
            label,
            ...(m?.stats ? { after: m.stats } : { note: m?.note ?? "not measured" }),
            ...(b?.stats ? { before: b.stats } : b?.note ? { beforeNote: b.note } : {}),
            ...(target !== undefined ? { target } : {}),
        };
    };
    const median = (id: string) => now.measures[id]?.stats?.median;
    const kubectl = median("progression.kubectl");
    const helm = median("progression.helm");
    const preview = median("preview.empty");
    const progressionTarget = kubectl !== undefined ? Math.min(2 * kubectl, helm ?? Infinity) : helm;
    // The Helm rows name the version the bench built, from the measure's title.
    const helmRow = (id: string) => row(id, `${now.measures[id]?.title.replace(/^[^:]*: /, "") ?? "helm upgrade --install --wait, curl/jq"}`);
    const panels: ChartPanel[] = [
        {
            title: "Full progression dev -> staging -> prod, from empty stacks",
            unit: "s",
            rows: [
                row("progression.pulumi", "pulumi up dev, staging, prod (+ smoke gate)", progressionTarget),
                row("progression.kubectl", "seed: kubectl apply + rollout status + curl/jq"),
                helmRow("progression.helm"),
            ],
        },
        {
            title: "Full progression on real pods (one real node: kubelet, containerd, the app's image)",
            unit: "s",
            rows: [
                row("real.progression.pulumi", "pulumi up dev, staging, prod (+ smoke gate)", median("real.progression.helm")),
                row("real.progression.kubectl", "seed: kubectl apply + rollout status + curl/jq"),
                helmRow("real.progression.helm"),
            ],
        },
        {
            title: "Re-run with nothing changed",
            unit: "s",
            rows: [
                ...(["dev", "staging", "prod"] as const).map((e) =>
                    row(`nochange.up.${e}`, `pulumi up -s ${e}`, preview !== undefined ? 1.5 * preview : undefined),
                ),
                row("preview.empty", "pulumi preview, empty program"),
                row("refresh.staging", "pulumi refresh -s staging (the demo's)"),
            ],
        },
        {
            title: "Smoke gate: overhead on a healthy app, and a deterministic break",
            unit: "s",
            rows: [
                ...(["dev", "staging", "prod"] as const).map((e) => row(`smoke.step.${e}`, `checks' step in up, ${e}`, 0.5)),
                ...(["dev", "staging", "prod"] as const).map((e) => row(`smoke.overhead.${e}`, `up with checks minus without, ${e}`)),
                row("failure.afterRollout", "break: rollout end to failed up", 3),
            ],
        },
        {
            title: "Live switch in a passing up, and progression rollback (prod)",
            unit: "s",
            rows: [
                ...(["dev", "staging", "prod"] as const).map((e) => row(`switch.added.${e}`, `checks passed to LiveSwitch done, ${e}`, 1)),
                row("rollback.live", "rollback: start to live endpoints on previous", 10),
                row("rollback.cli", "rollback: start to the CLI's moved line"),
                row("rollback.recorded", "rollback: start to exit (recording up)"),
            ],
        },
        {
            title: "CLI from process start",
            unit: "ms",
            rows: [
                row("cli.smoke.firstRequest", "progression smoke: first request", 300),
                row("cli.smoke.exit", "progression smoke: exit"),
                row("cli.netcheck.firstRequest", "progression netcheck: first request", 300),
                row("cli.netcheck.exit", "progression netcheck: exit"),
            ],
        },
        {
            title: "netcheck scaling (5 workloads and 4 policies per namespace), log scale",
            unit: "s",
            log: true,
            rows: SIZES.flatMap((n) => [
                row(`netcheck.${n}.time`, `netcheck, ${n.toLocaleString("en-US")} namespaces`, n === 1000 ? 5 : undefined),
                row(`cyclonus.${n}.time`, `cyclonus, ${n.toLocaleString("en-US")} namespaces`),
            ]),
        },
    ];
    const m = now.machine;
    return renderChart(
        "env-progression: npm run bench",
        `${String(m["cpus"])} cores (${String(m["cpuModel"])}), ${String(m["memoryGiB"])} GiB, Node ${String(m["node"])}, ${now.runs} runs each${now.cluster ? `; ${now.cluster}` : ""}; commit and load of each figure in bench/results.json`,
        panels,
    );
}

if (require.main === module) {
    main().then(
        (code) => (process.exitCode = code),
        (err: unknown) => {
            process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
            process.exitCode = 1;
        },
    );
}
