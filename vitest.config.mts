import { defineConfig } from "vitest/config";

// Four projects: `npm test` runs the fast ones (unit, smoke, policy); `npm run test:e2e` runs the
// end-to-end suite against the real engine and a local control plane.
export default defineConfig({
    test: {
        // Vitest's default is one worker per core minus one: a single worker on a 2-core machine,
        // which runs every file in turn. Most of these files wait on servers, timers and child
        // processes rather than the CPU, so four run side by side.
        maxWorkers: 4,
        projects: [
            { test: { name: "unit", include: ["tests/unit/**/*.test.ts"], testTimeout: 20_000 } },
            { test: { name: "smoke", include: ["tests/smoke/**/*.test.ts"], testTimeout: 60_000 } },
            { test: { name: "policy", include: ["tests/policy/**/*.test.ts"], testTimeout: 30_000 } },
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
                    fileParallelism: false,
                },
            },
        ],
    },
});
