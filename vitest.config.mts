import * as fs from "node:fs";
import * as path from "node:path";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The end-to-end files, in the order they run (one at a time: fileParallelism is false). The
 * first six share the machine's one real node (tests/e2e/realCluster.ts): progression starts it,
 * release runs on it as progression leaves it, and the ones that stop a part of it on purpose and
 * start it again (isolation: the NetworkPolicy enforcer; admission: a node component; faults:
 * each node process) come after them, so a part that fails to come back cannot fail the files
 * before them; host stops the cluster and checks the machine is as it was. The rest bring their own
 * simulated (kwok) cluster each and depend on no other file. A new e2e file must be added here.
 */
const E2E_ORDER = [
    "progression.test.ts",
    "release.test.ts",
    "isolation.test.ts",
    "admission.test.ts",
    "faults.test.ts",
    "host.test.ts",
    "config.test.ts",
    "migration.test.ts",
    "concurrency.test.ts",
    "policy.test.ts",
    "promotion.test.ts",
    "pipeline.test.ts",
];

/**
 * The `npm test` files that take longest, most of it waiting on child processes, PostgreSQL and
 * servers, longest first, whatever their project; they start first, so the rest of the suite runs
 * on the cores meanwhile instead of after them. Without this, a fresh clone (no timings of an
 * earlier run) starts them by file size, some near the end.
 */
const SLOW_FIRST = [
    "tests/unit/migrate-sh.test.ts",
    "tests/unit/migration-command.test.ts",
    "tests/smoke/engine.test.ts",
    "tests/smoke/cli.test.ts",
    "tests/unit/program.test.ts",
    "tests/unit/netpol-cli.test.ts",
    "tests/smoke/app.test.ts",
    "tests/unit/gate-commands.test.ts",
    "tests/unit/cli-dispatch.test.ts",
    "tests/unit/migration-program.test.ts",
];

/**
 * Vitest's own order, except: the SLOW_FIRST files start first; the e2e files run in E2E_ORDER.
 */
class E2eOrder extends BaseSequencer {
    override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
        const root = this.ctx.config.root;
        for (const f of SLOW_FIRST) if (!fs.existsSync(path.join(root, f))) throw new Error(`${f} is in SLOW_FIRST (vitest.config.mts) but does not exist. Fix: remove it from that list`);
        const slowRank = (f: TestSpecification) => {
            const i = SLOW_FIRST.indexOf(path.relative(root, f.moduleId));
            return i < 0 ? SLOW_FIRST.length : i;
        };
        // Array.prototype.sort is stable: within a rank, vitest's order stays.
        const sorted = (await super.sort(files)).sort((a, b) => slowRank(a) - slowRank(b));
        const isE2e = (f: TestSpecification) => f.project.name === "e2e";
        const rank = (f: TestSpecification) => {
            const i = E2E_ORDER.indexOf(path.basename(f.moduleId));
            if (i < 0) throw new Error(`${f.moduleId} is not in E2E_ORDER (vitest.config.mts); allowed: ${E2E_ORDER.join(", ")}. Fix: add it where it belongs in that list`);
            return i;
        };
        const e2e = sorted.filter(isE2e).sort((a, b) => rank(a) - rank(b));
        let next = 0;
        return sorted.map((f) => (isE2e(f) ? e2e[next++]! : f));
    }
}

// `npm test` runs the fast project (tests/unit, tests/smoke, tests/policy); `npm run test:e2e` runs
// the end-to-end suite against the real engine and a local control plane.
export default defineConfig({
    test: {
        // Vitest's default is one worker per core minus one: a single worker on a 2-core machine,
        // which runs every file in turn. Most of these files wait on servers, timers and child
        // processes rather than the CPU (a worker blocked in spawnSync holds no core), so six run
        // side by side: on 2 cores `npm test` took 16 s with six, 17 s with four.
        maxWorkers: 6,
        // dist/, the compiled program and provider bundles, built when a source changed.
        globalSetup: ["tests/build.ts"],
        sequence: { sequencer: E2eOrder },
        projects: [
            // One project for the unit, smoke and policy files: a worker serves one project only, so
            // three projects started a dozen workers, each loading vitest and the SDK again (about
            // 4 s of `npm test` on 2 cores); one project starts one per slot. Run one folder
            // alone by its path: toolchain/run vitest run tests/policy
            // isolate: false: a worker runs its next file in the same process, with the modules it has
            // loaded (@pulumi/pulumi and @pulumi/kubernetes alone take seconds to import), instead of a
            // fresh process per file. A file that changes process-wide state (environment variables,
            // Pulumi mocks, spies) puts it back or sets it anew before it reads it.
            {
                test: {
                    name: "fast",
                    include: ["tests/unit/**/*.test.ts", "tests/smoke/**/*.test.ts", "tests/policy/**/*.test.ts"],
                    // The smoke files' servers and child processes need the most.
                    testTimeout: 60_000,
                    isolate: false,
                },
            },
            // `npm run test:oracle`: our NetworkPolicy evaluator against cyclonus (toolchain/oracle.sh).
            { test: { name: "oracle", include: ["tests/oracle/**/*.test.ts"], testTimeout: 5 * 60_000 } },
            // `npm run test:pack`: the policy pack as published, installed and run outside the repository.
            { test: { name: "pack", include: ["tests/e2e/policy-packed.test.ts"], testTimeout: 30 * 60_000, hookTimeout: 30 * 60_000 } },
            {
                test: {
                    name: "e2e",
                    include: ["tests/e2e/**/*.test.ts"],
                    // Names the real-node cluster the files share, and deletes it at the end.
                    globalSetup: ["tests/e2e/setup.ts"],
                    exclude: ["tests/e2e/policy-packed.test.ts"],
                    testTimeout: 30 * 60_000,
                    hookTimeout: 30 * 60_000,
                    // One file at a time, in E2E_ORDER (above).
                    fileParallelism: false,
                },
            },
        ],
    },
});
