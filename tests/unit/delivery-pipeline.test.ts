// `npm run pipeline`'s plan is read from the workflow files: the same jobs, in an order GitHub
// could run them, with the same commands; and it stops where GitHub stops. The run against the
// local cluster is in tests/e2e/pipeline.test.ts.
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { ENVIRONMENTS } from "../../config/environments";
import type { PlanJob, PlanStep } from "../../delivery/pipeline/model";
import { planWorkflow, readWorkflow } from "../../delivery/pipeline/plan";
import { type Runner, runPlan } from "../../delivery/pipeline/run";

const ROOT = path.resolve(__dirname, "../..");
const pulumiOf = (job: PlanJob) => job.steps.filter((s): s is Extract<PlanStep, { kind: "pulumi" }> => s.kind === "pulumi");
const runsOf = (job: PlanJob) => job.steps.filter((s): s is Extract<PlanStep, { kind: "run" }> => s.kind === "run").map((s) => s.command);

/** A runner that records what it was asked to run and fails the steps it is told to. */
function recorder(fail: (label: string) => boolean) {
    const ran: string[] = [];
    const runner: Runner = {
        log: () => {},
        run: (s) => (ran.push(`$ ${s.command}`), Promise.resolve(!fail(s.command))),
        parity: (s) => (ran.push(`parity ${s.stacks.join(",")}`), Promise.resolve(!fail("parity"))),
        pulumi: (s) => (ran.push(`pulumi ${s.command} ${s.stack}`), Promise.resolve(!fail(s.label))),
    };
    return { ran, runner };
}

describe("the plan of main.yml", () => {
    const raw = parse(fs.readFileSync(path.join(ROOT, ".github", "workflows", "main.yml"), "utf8")) as { jobs: Record<string, { steps: { run?: string }[] }> };
    const plan = planWorkflow(readWorkflow("main"));

    it("is the workflow's jobs, each after the ones it needs: the tests, then up dev, staging, prod", () => {
        expect(plan.map((j) => [j.id, j.needs])).toEqual([
            ["test", []],
            ["publish-pack", ["test"]],
            ["up-dev", ["publish-pack"]],
            ["up-staging", ["up-dev"]],
            ["up-prod", ["up-staging"]],
        ]);
        expect(plan.filter((j) => j.approval).map((j) => j.id)).toEqual(["up-prod"]);
    });

    it("runs each job's shell commands verbatim, but for what only a runner or Pulumi Cloud has", () => {
        const standInRuns = (r: string) => r === "npm ci" || r.startsWith("bin/progression parity") || r.includes("delivery/pack.ts publish");
        for (const job of plan) {
            const workflowRuns = raw.jobs[job.id]!.steps.flatMap((s) => (s.run ? [s.run] : [])).filter((r) => !standInRuns(r));
            expect(runsOf(job)).toEqual(workflowRuns);
        }
        expect(runsOf(plan[0]!)).toEqual(["npm ci --prefix delivery/deployments", "npm run typecheck", "npm run lint", "npm test"]);
        const standIns = plan.flatMap((j) => j.steps.filter((s) => s.kind === "local").map((s) => s.label));
        expect([...new Set(standIns)].sort()).toEqual(["Pulumi CLI", "Pulumi token (OIDC)", "checkout", "npm ci", "publish the policy pack", "setup Node"]);
        // parity runs against the local stacks, before prod's up.
        const prod = plan.find((j) => j.id === "up-prod")!;
        const kinds = prod.steps.map((s) => s.kind);
        expect(prod.steps.find((s) => s.kind === "parity")).toMatchObject({ stacks: ["dev", "staging", "prod"] });
        expect(kinds.indexOf("parity")).toBeLessThan(kinds.indexOf("pulumi"));
    });

    it("updates each stack as pulumi/actions does: up, with the policy pack at the stack's config", () => {
        expect(plan.slice(2).map((j) => pulumiOf(j).map((s) => [s.command, s.stack, s.policyPacks, s.policyPackConfigs]))).toEqual(
            ENVIRONMENTS.map((e) => [["up", e, [path.join(ROOT, "policy")], [path.join(ROOT, "policy", "config", `${e}.json`)]]]),
        );
    });

    it("follows the workflow file: a step added there is a step run here", () => {
        const doc = readWorkflow("main");
        doc.jobs["up-staging"]!.steps.splice(3, 0, { name: "migrate", run: "npm run migrate -- --stack staging" });
        const changed = planWorkflow(doc);
        expect(runsOf(changed.find((j) => j.id === "up-staging")!)[0]).toBe("npm run migrate -- --stack staging");
    });

    it("stops where GitHub stops: a failing stack skips every stack after it", async () => {
        const { ran, runner } = recorder((label) => label === "pulumi up staging");
        const outcome = await runPlan(plan, runner);
        expect(outcome).toEqual({ test: "passed", "publish-pack": "passed", "up-dev": "passed", "up-staging": "failed", "up-prod": "skipped" });
        expect(ran.filter((r) => r.startsWith("pulumi"))).toEqual(["pulumi up dev", "pulumi up staging"]);
        // The failed job still writes its summary and notifies; the passing ones do not notify.
        const reports = ran.filter((r) => r.includes("delivery/report.ts"));
        expect(reports.filter((r) => r.endsWith("notify"))).toHaveLength(1);
        expect(reports.filter((r) => r.includes("summary"))).toHaveLength(2);
    });

    it("fails prod's job on a parity violation, before its up", async () => {
        const { ran, runner } = recorder((label) => label === "parity");
        const outcome = await runPlan(plan, runner, ["test"]);
        expect(outcome["up-prod"]).toBe("failed");
        expect(ran.filter((r) => r.startsWith("pulumi") || r.startsWith("parity"))).toEqual(["pulumi up dev", "pulumi up staging", "parity dev,staging,prod"]);
    });

    it("runs no stack when the tests fail, and the stacks alone with --skip-job test", async () => {
        const failing = recorder((label) => label === "npm run lint");
        expect(await runPlan(plan, failing.runner)).toEqual({
            test: "failed",
            "publish-pack": "skipped",
            "up-dev": "skipped",
            "up-staging": "skipped",
            "up-prod": "skipped",
        });
        expect(failing.ran).toEqual(["$ npm ci --prefix delivery/deployments", "$ npm run typecheck", "$ npm run lint"]);
        const skipping = recorder(() => false);
        expect(await runPlan(plan, skipping.runner, ["test"])).toEqual({
            test: "skipped by request",
            "publish-pack": "passed",
            "up-dev": "passed",
            "up-staging": "passed",
            "up-prod": "passed",
        });
        expect(skipping.ran.filter((r) => r.startsWith("pulumi"))).toEqual(ENVIRONMENTS.map((e) => `pulumi up ${e}`));
    });
});

describe("the plan of pull-request.yml", () => {
    const plan = planWorkflow(readWorkflow("pull-request"));
    it("previews every stack after the tests, one job per matrix value, independent of each other", async () => {
        expect(plan.map((j) => [j.id, j.needs])).toEqual([["test", []], ...ENVIRONMENTS.map((e) => [`preview (${e})`, ["test"]])]);
        expect(plan.slice(1).map((j) => pulumiOf(j).map((s) => `${s.command} ${s.stack} ${path.relative(ROOT, s.policyPackConfigs[0]!)}`))).toEqual(
            ENVIRONMENTS.map((e) => [`preview ${e} policy/config/${e}.json`]),
        );
        // The preview's swap to the read-only ESC environment never rewrites the working tree's stack files.
        for (const job of plan.slice(1)) expect(job.steps.find((s) => s.label === "the stack's read-only ESC environment")?.kind).toBe("local");
        // fail-fast is off: one stack's failing preview does not hide the others'.
        const { runner } = recorder((label) => label === "pulumi preview staging");
        expect(await runPlan(plan, runner)).toEqual({ test: "passed", "preview (dev)": "passed", "preview (staging)": "failed", "preview (prod)": "passed" });
    });
});

describe("the plan of promote.yml", () => {
    const sha = "0123456789abcdef0123456789abcdef01234567";
    it("updates the chosen stack after checking the working tree is at the chosen commit", () => {
        const [job] = planWorkflow(readWorkflow("promote"), { stack: "prod", commit: sha });
        expect(job!.approval).toBe(true);
        expect(pulumiOf(job!).map((s) => [s.command, s.stack])).toEqual([["up", "prod"]]);
        const checkout = job!.steps[0] as Extract<PlanStep, { kind: "run" }>;
        expect([checkout.kind, checkout.env]).toEqual(["run", { REF: sha }]);
        expect(job!.steps[1]).toMatchObject({ kind: "run", env: { COMMIT: sha } });
        // prod's promotion checks parity first; another stack's does not.
        expect(job!.steps.filter((s) => s.kind === "parity")).toHaveLength(1);
        const [dev] = planWorkflow(readWorkflow("promote"), { stack: "dev", commit: sha });
        expect(dev!.steps.filter((s) => s.kind === "parity")).toHaveLength(0);
    });

    it("refuses a missing or unknown input, naming the allowed values", () => {
        expect(() => planWorkflow(readWorkflow("promote"), { commit: sha })).toThrow("the workflow needs input 'stack'. Fix: --input stack=dev|staging|prod");
        expect(() => planWorkflow(readWorkflow("promote"), { stack: "qa", commit: sha })).toThrow("input stack=qa is not allowed. Allowed: dev, staging, prod");
    });
});

describe("a workflow the dry run cannot follow", () => {
    it("is refused with what and where", () => {
        const doc = readWorkflow("main");
        doc.jobs["up-dev"]!.steps.push({ run: "echo ${{ github.event.head_commit.message }}" });
        expect(() => planWorkflow(doc)).toThrow("job up-dev step 12: the expression ${{ github.event.head_commit.message }} has no local value.");
        const conditional = readWorkflow("main");
        conditional.jobs["up-dev"]!.steps.push({ if: "github.ref == 'refs/heads/main'", run: "true" });
        expect(() => planWorkflow(conditional)).toThrow(`job up-dev step 12: the step condition "github.ref == 'refs/heads/main'" is not followed here.`);
        const cyclic = readWorkflow("main");
        cyclic.jobs["test"]!.needs = "up-prod";
        expect(() => planWorkflow(cyclic)).toThrow("the jobs test, publish-pack, up-dev, up-staging, up-prod need each other: the workflow has a cycle");
    });
});
