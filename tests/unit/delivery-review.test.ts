// The delivery review, kept as a test: short-lived OIDC credentials scoped to each environment,
// a timeout on every job, prod only in its GitHub environment and never on a pull request, a
// cancelled job unlocks its stack, a failed one notifies, parity before prod's up, the pinned CLI,
// and exactly one delivery path reacting to a push. It reads the committed workflow files, and the
// generators for what another setting would produce.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { ENVIRONMENTS, ENVIRONMENT_RULES } from "../../config/environments";
import { environmentSettings, promotionWebhook, promotions, type DeliveryOptions } from "../../delivery/deployments/plan";
import { DELIVERY, type DeliveryPath, type DeliverySettings } from "../../delivery/settings";
import { ACTIONS, mainWorkflow, pullRequestWorkflow, pulumiVersion, WORKFLOW_DIR, WORKFLOWS, type Workflow } from "../../delivery/workflows";

type Step = { name?: string; id?: string; if?: string; uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string> };
type Job = {
    environment?: string;
    permissions?: Record<string, string>;
    "timeout-minutes"?: number;
    env?: Record<string, string>;
    steps: Step[];
};
type Doc = { on: Record<string, unknown>; permissions?: Record<string, string>; jobs: Record<string, Job> };

const committed = Object.fromEntries(Object.keys(WORKFLOWS).map((f) => [f, parse(fs.readFileSync(path.join(WORKFLOW_DIR, f), "utf8")) as Doc]));
const allJobs = Object.entries(committed).flatMap(([file, doc]) => Object.entries(doc.jobs).map(([name, job]) => ({ file, name, job })));
const isAuth = (s: Step) => s.uses === ACTIONS.auth.uses;
const usesToken = (s: Step) => Object.keys(s.env ?? {}).includes("PULUMI_ACCESS_TOKEN");
/** A step that runs the pulumi CLI: the action with a command, the CLI itself, parity (pulumi config), the pack's publisher (pulumi policy). */
const runsPulumi = (s: Step) =>
    (s.uses?.startsWith("pulumi/actions@") && s.with?.["command"] !== undefined) ||
    /\bpulumi\s+[a-z]|bin\/progression parity|delivery\/pack\.ts publish/.test(s.run ?? "");
const stepIndex = (job: Job, pred: (s: Step) => boolean) => job.steps.findIndex(pred);

describe("credentials: short-lived, one team per environment, only in the steps that need them", () => {
    it("exchanges GitHub's OIDC token with pulumi/auth-actions v2.1.0, pinned by commit, in every job that runs pulumi", () => {
        expect(ACTIONS.auth).toEqual({ uses: "pulumi/auth-actions@141415910c3beb54e03b48e9057c204c97b956f2", version: "v2.1.0" });
        const pulumiJobs = allJobs.filter(({ job }) => job.steps.some(runsPulumi));
        expect(pulumiJobs.map((j) => `${j.file}:${j.name}`).sort()).toEqual(
            ["main.yml:publish-pack", "main.yml:up-dev", "main.yml:up-staging", "main.yml:up-prod", "promote.yml:promote", "pull-request.yml:preview"].sort(),
        );
        for (const { file, name, job } of pulumiJobs) {
            expect(job.permissions, `${file} ${name}`).toEqual(expect.objectContaining({ "id-token": "write", contents: "read" }));
            const auth = job.steps.filter(isAuth);
            expect(auth, `${file} ${name}`).toHaveLength(1);
            // The exchange comes before every step that uses the token.
            const first = stepIndex(job, (s) => usesToken(s) && !s.if);
            expect(stepIndex(job, isAuth), `${file} ${name}`).toBeLessThan(first);
        }
        // Only the jobs that need OIDC may request it.
        for (const { file, name, job } of allJobs.filter(({ job }) => !job.steps.some(isAuth)))
            expect(job.permissions?.["id-token"], `${file} ${name}`).toBeUndefined();
        for (const doc of Object.values(committed)) expect(doc.permissions).toEqual({ contents: "read" });
    });

    it("asks for the token of the environment's own team, and the read-only preview team's on a pull request", () => {
        const scope = (job: Job) => job.steps.find(isAuth)!.with!;
        for (const env of ENVIRONMENTS) {
            expect(scope(committed["main.yml"]!.jobs[`up-${env}`]!)).toMatchObject({
                organization: "${{ vars.PULUMI_ORGANIZATION }}",
                "requested-token-type": "urn:pulumi:token-type:access_token:team",
                scope: `team:env-progression-${env}`,
            });
        }
        expect(scope(committed["promote.yml"]!.jobs["promote"]!)["scope"]).toBe("team:env-progression-${{ inputs.stack }}");
        expect(scope(committed["pull-request.yml"]!.jobs["preview"]!)["scope"]).toBe("team:env-progression-preview");
        // A token lives no longer than the job that asked for it may run.
        for (const { job } of allJobs.filter(({ job }) => job.steps.some(isAuth))) expect(scope(job)["token-expiration"]).toBe(job["timeout-minutes"]! * 60);
    });

    it("references no PULUMI_ACCESS_TOKEN secret, and gives the token by name only to the steps that run pulumi", () => {
        for (const [file, doc] of Object.entries(committed)) {
            expect(JSON.stringify(doc), file).not.toMatch(/secrets\.PULUMI_ACCESS_TOKEN/);
            for (const job of Object.values(doc.jobs)) expect(job.env).toBeUndefined();
        }
        for (const { file, name, job } of allJobs) {
            for (const s of job.steps.filter(usesToken)) {
                expect(s.env!["PULUMI_ACCESS_TOKEN"]).toBe("${{ steps.pulumi-token.outputs.pulumi-access-token }}");
                expect(runsPulumi(s), `${file} ${name}: '${s.name}' gets the token but runs no pulumi`).toBe(true);
            }
            // auth-actions exports the token to later steps anyway: the steps after the last user get an empty one.
            if (job.steps.some(isAuth)) {
                const lastUser = job.steps.map(usesToken).lastIndexOf(true);
                const forget = stepIndex(job, (s) => s.run === 'echo "PULUMI_ACCESS_TOKEN=" >> "$GITHUB_ENV"');
                expect(forget, `${file} ${name}`).toBeGreaterThan(
                    stepIndex(job, (s) => s.id === "up" || s.id === "preview" || /delivery\/pack\.ts publish/.test(s.run ?? "")),
                );
                expect(job.steps[forget]!.if).toBe("always()");
                // Only the cancel step, which must reach the backend, uses it after that.
                const after = job.steps.slice(forget + 1).filter(usesToken);
                expect(
                    after.every((s) => s.if === "cancelled()"),
                    `${file} ${name}`,
                ).toBe(true);
                expect(lastUser).toBeGreaterThan(-1);
                // No dependency install script runs with the token.
                expect(stepIndex(job, isAuth)).toBeGreaterThan(stepIndex(job, (s) => s.run === "npm ci"));
            }
        }
    });

    it("keeps no git credential in any checkout", () => {
        for (const { file, name, job } of allJobs) {
            for (const s of job.steps.filter((x) => x.uses?.startsWith("actions/checkout@")))
                expect(s.with?.["persist-credentials"], `${file} ${name}`).toBe(false);
        }
    });
});

describe("environments: prod only where its reviewers are, never on a pull request", () => {
    it("runs every up in its own GitHub environment, and no pull request job in any", () => {
        for (const env of ENVIRONMENTS) expect(committed["main.yml"]!.jobs[`up-${env}`]!.environment).toBe(env);
        expect(committed["promote.yml"]!.jobs["promote"]!.environment).toBe("${{ inputs.stack }}");
        for (const [name, job] of Object.entries(committed["pull-request.yml"]!.jobs)) expect(job.environment, name).toBeUndefined();
        expect(JSON.stringify(committed["pull-request.yml"])).not.toMatch(/environment:\s*prod|"environment":"prod"/);
        // The preview imports the stack's read-only ESC environment, never its own.
        const preview = committed["pull-request.yml"]!.jobs["preview"]!;
        const swap = preview.steps.findIndex((s) => s.name === "the stack's read-only ESC environment");
        expect(swap).toBeGreaterThan(-1);
        expect(swap).toBeLessThan(stepIndex(preview, (s) => s.id === "preview"));
    });
});

describe("a pull request's preview", () => {
    it("imports the stack's read-only ESC environment in its own checkout, and leaves the other imports", () => {
        const step = committed["pull-request.yml"]!.jobs["preview"]!.steps.find((s) => s.name === "the stack's read-only ESC environment")!;
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "preview-env-"));
        try {
            const file = path.join(dir, "Pulumi.prod.yaml");
            fs.writeFileSync(file, "environment:\n  - env-progression/prod\n  - env-progression/promotion\nconfig:\n  env-progression:environment: prod\n");
            execFileSync("bash", ["-e", "-c", step.run!], { cwd: dir, env: { ...process.env, STACK: "prod" } });
            expect(fs.readFileSync(file, "utf8")).toBe(
                "environment:\n  - env-progression/prod-preview\n  - env-progression/promotion\nconfig:\n  env-progression:environment: prod\n",
            );
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("fail safe", () => {
    it("gives every job a timeout", () => {
        for (const { file, name, job } of allJobs) {
            expect(job["timeout-minutes"], `${file} ${name}`).toBeGreaterThan(0);
            expect(job["timeout-minutes"], `${file} ${name}`).toBeLessThanOrEqual(60);
        }
    });

    it("unlocks the stack with pulumi cancel when a job touching it is cancelled", () => {
        for (const { file, name, job } of allJobs.filter(({ job }) => job.steps.some((s) => s.id === "up" || s.id === "preview"))) {
            const cancel = job.steps.find((s) => s.if === "cancelled()");
            expect(cancel, `${file} ${name}`).toBeDefined();
            expect(cancel!.run).toContain('pulumi cancel --yes --stack "$STACK"');
            expect(cancel!.env!["STACK"]).toMatch(/^\$\{\{ vars\.PULUMI_ORGANIZATION \}\}\/.+$/);
        }
    });

    it("notifies a failure: an annotation, the job summary, the configured webhook", () => {
        for (const { file, name, job } of allJobs.filter(({ job }) => job.steps.some((s) => s.id === "up" || s.id === "preview"))) {
            const notify = job.steps.find((s) => s.run === "npx --no-install tsx delivery/report.ts notify");
            expect(notify?.if, `${file} ${name}`).toBe("failure() || cancelled()");
            expect(notify!.env!["NOTIFY_URL"]).toBe("${{ secrets.DELIVERY_NOTIFY_URL }}");
            const summary = job.steps.find((s) => s.run?.includes('delivery/report.ts summary >> "$GITHUB_STEP_SUMMARY"'));
            expect(summary?.if, `${file} ${name}`).toBe("always()");
        }
        const pack = committed["main.yml"]!.jobs["publish-pack"]!.steps.find((s) => s.run === "npx --no-install tsx delivery/report.ts notify");
        expect(pack?.if).toBe("failure() || cancelled()");
        // The up jobs' summaries carry the promotion record the stack exports.
        for (const env of ENVIRONMENTS) {
            const summary = committed["main.yml"]!.jobs[`up-${env}`]!.steps.find((s) => s.name === "job summary")!;
            expect(summary.env).toMatchObject({ VERIFIED: "${{ steps.up.outputs.verified }}", STACK: env, PULUMI_VERSION: pulumiVersion() });
        }
    });

    it("runs parity before prod's up, in a step whose failure fails the job", () => {
        const prod = committed["main.yml"]!.jobs["up-prod"]!;
        const parity = stepIndex(prod, (s) => (s.run ?? "").startsWith("bin/progression parity"));
        expect(parity).toBeGreaterThan(-1);
        expect(prod.steps[parity]!.run).toBe('bin/progression parity --stacks "$ORG/dev,$ORG/staging,$ORG/prod"');
        expect(prod.steps[parity]!.if).toBeUndefined();
        expect(parity).toBeLessThan(stepIndex(prod, (s) => s.id === "up"));
        // Only where a person approves; dev and staging have no parity step.
        for (const env of ENVIRONMENTS.filter((e) => !ENVIRONMENT_RULES[e].requiresApproval))
            expect(committed["main.yml"]!.jobs[`up-${env}`]!.steps.some((s) => (s.run ?? "").includes("parity"))).toBe(false);
        const promote = committed["promote.yml"]!.jobs["promote"]!;
        const promoteParity = promote.steps.find((s) => (s.run ?? "").startsWith("bin/progression parity"))!;
        expect(promoteParity.if).toBe("inputs.stack == 'prod'");
    });

    it("runs the policy pack whose content is its published version's, before any pulumi step", () => {
        for (const { file, name, job } of allJobs.filter(({ job }) => job.steps.some(runsPulumi))) {
            const check = stepIndex(job, (s) => s.run === "npm run policy:check");
            expect(check, `${file} ${name}`).toBeGreaterThan(-1);
            expect(check).toBeLessThan(stepIndex(job, runsPulumi));
        }
        expect(committed["main.yml"]!.jobs["up-dev"]!["needs" as keyof Job]).toBe("publish-pack");
    });
});

describe("the pinned CLI", () => {
    it("installs 3.276.0, the release of the SDK, in every job that runs pulumi", () => {
        expect(pulumiVersion()).toBe("3.276.0");
        const sdk = (JSON.parse(fs.readFileSync(path.resolve(__dirname, "../../package.json"), "utf8")) as { dependencies: Record<string, string> })
            .dependencies["@pulumi/pulumi"];
        expect(pulumiVersion()).toBe(sdk);
        for (const { file, name, job } of allJobs) {
            for (const s of job.steps.filter((x) => x.uses?.startsWith("pulumi/actions@")))
                expect(s.with!["pulumi-version"], `${file} ${name}`).toBe(pulumiVersion());
            // A step calling the CLI directly comes after the step that installs it.
            const direct = stepIndex(job, (s) => /\bpulumi\s+[a-z]/.test(s.run ?? ""));
            if (direct >= 0)
                expect(stepIndex(job, (s) => s.uses?.startsWith("pulumi/actions@") === true && s.with?.["command"] === undefined)).toBeLessThan(direct);
        }
    });
});

/** What starts an update of each stack when a commit lands on main. */
function pushTriggers(settings: DeliverySettings): Record<string, string[]> {
    const fired: Record<string, string[]> = Object.fromEntries(ENVIRONMENTS.map((e) => [e, []]));
    const main: Workflow = mainWorkflow({ settings });
    if (main.on["push"]) {
        for (const job of Object.values(main.jobs)) {
            const up = (job["steps"] as Step[]).find((s) => s.id === "up");
            if (up) fired[(up.with!["stack-name"] as string).split("/").pop()!]!.push("GitHub Actions");
        }
    }
    const table = { order: ENVIRONMENTS, rules: ENVIRONMENT_RULES };
    const options: DeliveryOptions = {
        organization: "acme",
        project: "env-progression",
        repository: "acme/env-progression",
        branch: "main",
        repoDir: ".",
        programPaths: ["index.ts"],
        policyPack: { name: "p", version: "0.1.0", config: () => ({}) },
        unattendedPromotion: true,
        review: undefined,
        armed: settings.armed === "deployments",
        cliVersion: pulumiVersion(),
    };
    // A push deploys the stacks whose settings deploy commits, then every active webhook's target.
    const deployed = ENVIRONMENTS.filter((e) => (environmentSettings(table, e, options).vcs as { deployCommits?: boolean }).deployCommits === true);
    const hooks = promotions(table).filter((edge) => promotionWebhook(table, edge, options).active === true);
    for (let changed = true; changed;) {
        changed = false;
        for (const h of hooks)
            if (deployed.includes(h.from as (typeof ENVIRONMENTS)[number]) && !deployed.includes(h.to as (typeof ENVIRONMENTS)[number])) {
                deployed.push(h.to as (typeof ENVIRONMENTS)[number]);
                changed = true;
            }
    }
    for (const e of deployed) fired[e]!.push("Pulumi Deployments");
    return fired;
}

describe("one path armed", () => {
    it.each(["actions", "deployments"] as DeliveryPath[])("with %s armed, a push updates each stack exactly once, by that path", (armed) => {
        const fired = pushTriggers({ ...DELIVERY, armed });
        const expected = armed === "actions" ? "GitHub Actions" : "Pulumi Deployments";
        expect(fired).toEqual(Object.fromEntries(ENVIRONMENTS.map((e) => [e, [expected]])));
    });

    it("would fail if both paths fired on the same push", () => {
        // Both armed at once: the workflows of one setting, the Deployments settings of the other.
        const actions = pushTriggers({ ...DELIVERY, armed: "actions" });
        const deployments = pushTriggers({ ...DELIVERY, armed: "deployments" });
        const both = Object.fromEntries(ENVIRONMENTS.map((e) => [e, [...actions[e]!, ...deployments[e]!]]));
        const twice = Object.entries(both).filter(([, by]) => by.length > 1);
        expect(twice.map(([e]) => e)).toEqual([...ENVIRONMENTS]);
    });

    it("is the committed setting, and the committed workflows are generated from it", () => {
        expect(["actions", "deployments"]).toContain(DELIVERY.armed);
        const fired = pushTriggers(DELIVERY);
        for (const e of ENVIRONMENTS) expect(fired[e], e).toHaveLength(1);
        // With Deployments armed, pull requests are previewed by Deployments, not by a workflow.
        expect(Object.keys(pullRequestWorkflow({ settings: { ...DELIVERY, armed: "deployments" } }).jobs)).toEqual(["test"]);
        expect(Object.keys(mainWorkflow({ settings: { ...DELIVERY, armed: "deployments" } }).jobs)).toEqual(["test", "publish-pack"]);
    });

    it("does not run up for a commit that changes only documentation", () => {
        const ignored = (committed["main.yml"]!.on["push"] as { "paths-ignore": string[] })["paths-ignore"];
        const matches = (file: string) =>
            ignored.some((p) => (p === "**.md" ? file.endsWith(".md") : p.endsWith("/**") ? file.startsWith(p.slice(0, -2)) : file === p));
        for (const f of ["README.md", "docs/delivery.md", "docs/local-cluster.md", "cluster/README.md"]) expect(matches(f), f).toBe(true);
        for (const f of ["index.ts", "Pulumi.prod.yaml", "policy/index.ts", "package-lock.json", ".github/workflows/main.yml"])
            expect(matches(f), f).toBe(false);
    });

    it("keeps the actions and npm projects current with dependabot", () => {
        const doc = parse(fs.readFileSync(path.resolve(__dirname, "../../.github/dependabot.yml"), "utf8")) as {
            updates: { "package-ecosystem": string; directory: string }[];
        };
        expect(doc.updates.map((u) => `${u["package-ecosystem"]} ${u.directory}`)).toEqual(["github-actions /", "npm /", "npm /delivery/deployments"]);
    });
});
