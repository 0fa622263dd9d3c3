// Our evaluator against cyclonus, an independent NetworkPolicy engine, cell by cell: the fixture
// policy sets over their own models, then many random policy sets over a fixed model. Fails (never
// skips) when the oracle is not built: `toolchain/oracle.sh` builds it, `.ci/run` calls that first.
//
//   npm run test:oracle                               # 200 sets, the fixed seed
//   ORACLE_SETS=1000 ORACLE_SEED=7 npm run test:oracle
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments, stringify } from "yaml";
import { type ClusterModel, createEvaluator, isolationModelFromManifests, type MatrixCell, type Probe } from "../../netpol";
import { cyclonusPath, type OracleVerdict, runCyclonus } from "./cyclonus";
import { mulberry32, ORACLE_MODEL, ORACLE_PROBES, policySet } from "./generate";

const SETS = Number(process.env["ORACLE_SETS"] ?? 200);
const SEED = Number(process.env["ORACLE_SEED"] ?? 20261126);
const FIXTURES = path.resolve(__dirname, "../fixtures/netpol");

interface Disagreement {
    readonly label: string;
    readonly policies: readonly unknown[];
    readonly cell: MatrixCell;
    readonly oracle: OracleVerdict;
}

interface Comparison {
    readonly cells: number;
    readonly allowed: number;
    readonly disagreements: Disagreement[];
}

async function compare(bin: string, label: string, model: ClusterModel, probes: readonly Probe[], policies: readonly unknown[]): Promise<Comparison> {
    const cells = createEvaluator(model, policies).matrix(probes).cells;
    const oracle = await runCyclonus(bin, model, policies, cells);
    const disagreements: Disagreement[] = [];
    cells.forEach((cell, i) => {
        const o = oracle[i] as OracleVerdict;
        // Each direction separately, not only the conjunction: two wrongs must not make a right.
        if (cell.allowed !== o.allowed || cell.egress.allowed !== o.egress || cell.ingress.allowed !== o.ingress) {
            disagreements.push({ label, policies, cell, oracle: o });
        }
    });
    return { cells: cells.length, allowed: cells.filter((c) => c.allowed).length, disagreements };
}

function explain(d: Disagreement): string {
    const c = d.cell;
    return [
        `${d.label}: ${c.from} -> ${c.to} ${c.protocol} ${c.port}`,
        `  ours:    allowed=${c.allowed} (egress ${c.egress.allowed}, ingress ${c.ingress.allowed}): ${c.reason}`,
        `  cyclonus: allowed=${d.oracle.allowed} (egress ${d.oracle.egress}, ingress ${d.oracle.ingress})`,
        d.oracle.text.replace(/^/gm, "    "),
        "  policies:",
        stringify(d.policies).replace(/^/gm, "    "),
    ].join("\n");
}

/** Runs the comparisons two at a time: the machine has two cores. */
async function pool<T, R>(items: readonly T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
    const out: R[] = new Array<R>(items.length);
    let next = 0;
    await Promise.all(
        Array.from({ length: width }, async () => {
            while (next < items.length) {
                const i = next++;
                out[i] = await fn(items[i] as T);
            }
        }),
    );
    return out;
}

function readDir(dir: string): unknown[] {
    return fs
        .readdirSync(dir)
        .filter((f) => f.endsWith(".yaml"))
        .sort()
        .flatMap((f) => parseAllDocuments(fs.readFileSync(path.join(dir, f), "utf8")).map((d) => d.toJS() as unknown))
        .filter((o) => o !== null);
}

describe("oracle: cyclonus v0.5.6 agrees with our evaluator", () => {
    const bin = cyclonusPath();

    it("has the cyclonus binary (built by toolchain/oracle.sh)", () => {
        const built = fs.existsSync(bin);
        expect(built, `cyclonus is not built at ${bin}: run toolchain/oracle.sh (needs Go and the Go module proxy)`).toBe(true);
    });

    it("agrees on the fixture policy sets (good and seed) over their manifest models", async () => {
        for (const name of ["good", "seed"]) {
            const { model, policies } = isolationModelFromManifests(readDir(path.join(FIXTURES, name)));
            const result = await compare(bin, `fixture ${name}`, model, model.probes, policies);
            expect(result.cells).toBeGreaterThan(50);
            expect(result.disagreements.map(explain).slice(0, 1).join("\n")).toBe("");
        }
    });

    it(`agrees cell by cell on ${SETS} random policy sets (seed ${SEED})`, async () => {
        const rng = mulberry32(SEED);
        const sets = Array.from({ length: SETS }, (_, i) => policySet(rng, i));
        const started = Date.now();
        const results = await pool(sets, 2, (policies) => compare(bin, `set ${sets.indexOf(policies)} (seed ${SEED})`, ORACLE_MODEL, ORACLE_PROBES, policies));
        const cells = results.reduce((n, r) => n + r.cells, 0);
        const allowed = results.reduce((n, r) => n + r.allowed, 0);
        const disagreements = results.flatMap((r) => r.disagreements);
        const setsWithDisagreement = results.filter((r) => r.disagreements.length > 0).length;
        console.log(
            `oracle: ${SETS} sets, ${cells} cells (${allowed} allowed, ${cells - allowed} denied), ` +
                `${disagreements.length} disagreements in ${setsWithDisagreement} sets, ${((Date.now() - started) / 1000).toFixed(1)}s`,
        );
        // The generator must reach both verdicts in volume, or agreement would mean little.
        expect(allowed).toBeGreaterThan(cells * 0.15);
        expect(cells - allowed).toBeGreaterThan(cells * 0.15);
        expect(disagreements.length === 0 ? "" : `first of ${disagreements.length} disagreements:\n${explain(disagreements[0] as Disagreement)}`).toBe("");
    });

    it("parses cyclonus's answer the way it means it (sanity: a deny-all, then no policy at all)", async () => {
        const model = ORACLE_MODEL;
        const denyAll = [
            {
                apiVersion: "networking.k8s.io/v1",
                kind: "NetworkPolicy",
                metadata: { name: "deny", namespace: "prod" },
                spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
            },
        ];
        const probes = ORACLE_PROBES.slice(0, 1);
        const cells = createEvaluator(model, denyAll).matrix(probes, { from: ["dev/web"], to: ["prod/web"] }).cells;
        const [denied] = await runCyclonus(bin, model, denyAll, cells);
        expect(denied).toMatchObject({ allowed: false, ingress: false, egress: true });
        const [open] = await runCyclonus(bin, model, [], cells);
        expect(open).toMatchObject({ allowed: true, ingress: true, egress: true });
    });
});
