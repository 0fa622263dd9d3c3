// The committed GitHub Actions workflows, parsed: they are what config/environments.ts generates,
// the job graph on main is exactly the promotion chain, every command a step runs exists, the
// policy pack and its config files are there, and no secret value is written in them. What the
// workflows must guarantee about credentials and failure is reviewed in delivery-review.test.ts.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENVIRONMENTS, ENVIRONMENT_RULES } from "../../config/environments";
import { packConfig } from "../../policy/pack";
import {
    ACTIONS,
    generatedFiles,
    mainWorkflow,
    NOTIFY_SECRET,
    promoteWorkflow,
    pullRequestWorkflow,
    pulumiVersion,
    render,
    stackGroup,
    TOKEN_VARIABLE,
    WORKFLOW_DIR,
    WORKFLOWS,
} from "../../delivery/workflows";

const ROOT = path.resolve(__dirname, "../..");
type Step = { name?: string; id?: string; if?: string; uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string> };
type Job = {
    needs?: string | string[];
    environment?: string;
    concurrency?: { group: string; "cancel-in-progress": boolean };
    env?: Record<string, string>;
    steps: Step[];
    strategy?: { matrix: Record<string, string[]> };
};
type Doc = { on: Record<string, any>; jobs: Record<string, Job> };

const read = (file: string) => fs.readFileSync(path.join(WORKFLOW_DIR, file), "utf8");
const load = (file: string) => parse(read(file)) as Doc;
const needsOf = (job: Job) => (job.needs === undefined ? [] : Array.isArray(job.needs) ? job.needs : [job.needs]);

/** The commands pulumi/actions v7 accepts (its `command` input). */
const ACTION_COMMANDS = ["up", "update", "refresh", "destroy", "preview", "output"];

/** Each job with its matrix and inputs expanded: one entry per concrete run. */
function expand(doc: Doc): { job: string; stack: string | undefined; steps: Step[]; raw: Job }[] {
    const out: { job: string; stack: string | undefined; steps: Step[]; raw: Job }[] = [];
    for (const [name, job] of Object.entries(doc.jobs)) {
        const stacks: (string | undefined)[] = job.strategy?.matrix["stack"] ?? doc.on["workflow_dispatch"]?.inputs?.stack?.options ?? [undefined];
        for (const stack of stacks) {
            const sub = (v: unknown): unknown =>
                typeof v === "string"
                    ? stack === undefined
                        ? v
                        : v.replaceAll("${{ matrix.stack }}", stack).replaceAll("${{ inputs.stack }}", stack)
                    : Array.isArray(v)
                      ? v.map(sub)
                      : v && typeof v === "object"
                        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, sub(x)]))
                        : v;
            const steps = sub(job.steps) as Step[];
            // A job without a matrix or inputs names its stack in its pulumi step.
            const named = (pulumiSteps(steps)[0]?.with?.["stack-name"] as string | undefined)?.split("/").pop();
            out.push({ job: name, stack: stack ?? named, steps, raw: sub(job) as Job });
        }
    }
    return out;
}

/** The pulumi/actions steps that run a command (the others only install the CLI). */
const pulumiSteps = (steps: Step[]) => steps.filter((s) => s.uses?.startsWith("pulumi/actions@") && s.with?.["command"] !== undefined);
/** The only values a key named like a credential may hold: a repository secret, or the OIDC step's token. */
const CREDENTIAL_REFERENCE = /^\$\{\{ (secrets\.[A-Z0-9_]+|steps\.pulumi-token\.outputs\.pulumi-access-token) \}\}$/;

/** Problems with secrets in a workflow's text and structure. */
function secretProblems(text: string): string[] {
    const problems: string[] = [];
    const doc = parse(text) as unknown;
    const SECRETISH = /TOKEN|SECRET|PASSWORD|PASSWD|PRIVATE|CREDENTIAL|API_?KEY|KUBECONFIG|DATABASE_URL/i;
    const walk = (v: unknown, where: string) => {
        if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${where}[${i}]`));
        else if (v && typeof v === "object") {
            for (const [k, x] of Object.entries(v)) {
                // Values of environment variables named like a credential; inputs and permissions are not credentials.
                if (where.endsWith(".env") && SECRETISH.test(k) && typeof x === "string" && !CREDENTIAL_REFERENCE.test(x))
                    problems.push(`${where}.${k} is neither a \${{ secrets.NAME }} reference nor the OIDC token: ${JSON.stringify(x)}`);
                walk(x, `${where}.${k}`);
            }
        }
    };
    walk(doc, "");
    const literal: [string, RegExp][] = [
        ["a Pulumi access token", /pul-[0-9a-f]{40}/],
        ["a GitHub token", /\bgh[oprsu]_[A-Za-z0-9]{30,}/],
        ["a private key", /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
        ["an AWS access key", /\bAKIA[0-9A-Z]{16}\b/],
        ["a JWT", /\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./],
        ["a URL with credentials", /[a-z]+:\/\/[^/\s:@]+:[^/\s@]+@/],
        ["a kubeconfig", /client-key-data|client-certificate-data|certificate-authority-data/],
    ];
    for (const [what, re] of literal) if (re.test(text)) problems.push(`contains ${what}`);
    for (const m of text.matchAll(/\$\{\{\s*secrets\.([A-Za-z0-9_]+)\s*\}\}/g))
        if (m[1] !== NOTIFY_SECRET)
            problems.push(`reads secrets.${m[1]}; only ${NOTIFY_SECRET} is a repository secret: Pulumi tokens come from OIDC, the rest from each stack's ESC environment`);
    return problems;
}

describe("the committed workflows", () => {
    it("are exactly what delivery/workflows.ts generates from the environment table, and nothing else is there", () => {
        expect(fs.readdirSync(WORKFLOW_DIR).sort()).toEqual(Object.keys(WORKFLOWS).sort());
        for (const [file, build] of Object.entries(WORKFLOWS)) expect(read(file), `${file} is stale: npm run workflows`).toBe(render(file, build()));
        for (const [file, text] of Object.entries(generatedFiles())) expect(fs.readFileSync(path.join(ROOT, file), "utf8"), `${file} is stale: npm run workflows`).toBe(text);
    });

    it("pin every action by commit, and pulumi/actions at v7", () => {
        for (const file of Object.keys(WORKFLOWS)) {
            for (const m of read(file).matchAll(/uses: (\S+)(.*)$/gm)) {
                expect(m[1], `${file}: ${m[0]}`).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/);
                expect(Object.values(ACTIONS).map((a) => a.uses)).toContain(m[1]);
            }
        }
        expect(ACTIONS.pulumi.version).toMatch(/^v7\./);
    });
});

describe("main: up dev, then staging, then prod", () => {
    const doc = load("main.yml");
    const upJobs = Object.entries(doc.jobs).filter(([, j]) => pulumiSteps(j.steps).some((s) => s.with?.["command"] === "up"));

    it("runs on pushes to main only, and not for a commit that changes only documentation", () => {
        expect(doc.on).toEqual({ push: { branches: ["main"], "paths-ignore": ["**.md", "docs/**", "LICENSE", ".github/dependabot.yml"] } });
    });

    it("has one up job per environment, each needing the one before, after the tests: exactly the promotion chain", () => {
        const stackOf = (j: Job) => (pulumiSteps(j.steps)[0]!.with!["stack-name"] as string).split("/").pop();
        expect(upJobs.map(([, j]) => stackOf(j))).toEqual([...ENVIRONMENTS]);
        const edges = Object.entries(doc.jobs).flatMap(([name, j]) => needsOf(j).map((n) => `${n} -> ${name}`));
        expect(edges.sort()).toEqual(["test -> publish-pack", "publish-pack -> up-dev", "up-dev -> up-staging", "up-staging -> up-prod"].sort());
        // The graph is the table's: each up job needs the job of the environment it promotes from.
        for (const [name, j] of upJobs) {
            const env = stackOf(j) as (typeof ENVIRONMENTS)[number];
            const from = ENVIRONMENT_RULES[env].promotesFrom;
            expect(needsOf(j), name).toEqual([from === undefined ? "publish-pack" : `up-${from}`]);
        }
        // Acyclic: a topological order exists, and it is the table's.
        const order: string[] = [];
        const pending = new Map(Object.entries(doc.jobs).map(([n, j]) => [n, needsOf(j)]));
        while (pending.size > 0) {
            const ready = [...pending].filter(([, needs]) => needs.every((n) => order.includes(n))).map(([n]) => n);
            expect(ready.length, `cycle among ${[...pending.keys()].join(", ")}`).toBeGreaterThan(0);
            for (const n of ready) {
                order.push(n);
                pending.delete(n);
            }
        }
        expect(order).toEqual(["test", "publish-pack", ...ENVIRONMENTS.map((e) => `up-${e}`)]);
    });

    it("grows with the table: an environment added to it gets its up job, in its place in the chain, and its preview", () => {
        const table = {
            order: ["dev", "qa", "staging", "prod"],
            rules: { ...ENVIRONMENT_RULES, qa: { promotesFrom: "dev", requiresApproval: false }, staging: { promotesFrom: "qa", requiresApproval: false } },
        };
        const jobs = mainWorkflow({ table }).jobs;
        expect(Object.entries(jobs).map(([name, j]) => [name, j["needs"]])).toEqual([
            ["test", undefined],
            ["publish-pack", "test"],
            ["up-dev", "publish-pack"],
            ["up-qa", "up-dev"],
            ["up-staging", "up-qa"],
            ["up-prod", "up-staging"],
        ]);
        expect((jobs["up-qa"]!["steps"] as Step[]).find((s) => s.id === "up")!.with).toMatchObject({
            "stack-name": "${{ vars.PULUMI_ORGANIZATION }}/qa",
            policyPackConfigs: "policy/config/qa.json",
        });
        expect((pullRequestWorkflow({ table }).jobs["preview"]!["strategy"] as Job["strategy"])!.matrix["stack"]).toEqual(table.order);
        expect((promoteWorkflow({ table }).on["workflow_dispatch"] as any).inputs.stack.options).toEqual(table.order);
        // prod's parity now spans the longer chain.
        expect((jobs["up-prod"]!["steps"] as Step[]).find((s) => s.name?.startsWith("parity"))!.run).toBe(
            'bin/progression parity --stacks "$ORG/dev,$ORG/qa,$ORG/staging,$ORG/prod"',
        );
    });

    it("runs each stack's up in its GitHub environment and its own concurrency group, never cancelled midway", () => {
        for (const [name, j] of upJobs) {
            const env = name.replace(/^up-/, "");
            expect(j.environment).toBe(env);
            expect(j.concurrency).toEqual({ group: stackGroup(env), "cancel-in-progress": false });
        }
        const groups = upJobs.map(([, j]) => j.concurrency!.group);
        expect(new Set(groups).size).toBe(groups.length);
        // The stacks that require approval run in the GitHub environment whose reviewers give it.
        expect(ENVIRONMENTS.filter((e) => ENVIRONMENT_RULES[e].requiresApproval).map((e) => doc.jobs[`up-${e}`]!.environment)).toEqual(["prod"]);
    });
});

describe("pull requests: the tests, then a preview of every stack with the policy pack", () => {
    const doc = load("pull-request.yml");
    it("previews each stack after the tests, commenting on the pull request", () => {
        expect(Object.keys(doc.on)).toEqual(["pull_request"]);
        const preview = doc.jobs["preview"]!;
        expect(needsOf(preview)).toEqual(["test"]);
        // A fork's pull request gets no secrets: it runs the tests, not the previews.
        expect((preview as { if?: string }).if).toBe("github.event.pull_request.head.repo.full_name == github.repository");
        expect(preview.strategy!.matrix["stack"]).toEqual([...ENVIRONMENTS]);
        const step = pulumiSteps(preview.steps)[0]!;
        expect(step.with).toMatchObject({
            command: "preview",
            "comment-on-pr": true,
            policyPacks: "policy",
            policyPackConfigs: "policy/config/${{ matrix.stack }}.json",
        });
        const testRuns = doc.jobs["test"]!.steps.flatMap((s) => (s.run ? [s.run] : []));
        expect(testRuns.slice(-3)).toEqual(["npm run typecheck", "npm run lint", "npm test"]);
    });
});

describe("promote: one stack at a chosen commit", () => {
    const doc = load("promote.yml");
    const job = doc.jobs["promote"]!;
    let repo: string;
    let onMain: string;
    let offMain: string;
    beforeAll(() => {
        // A repository with a main branch and a commit main never had, cloned as the runner clones.
        repo = fs.mkdtempSync(path.join(os.tmpdir(), "promote-"));
        const git = (cwd: string, ...args: string[]) =>
            execFileSync("git", ["-c", "user.email=t@example.com", "-c", "user.name=t", ...args], { cwd, encoding: "utf8" }).trim();
        const origin = path.join(repo, "origin");
        fs.mkdirSync(origin);
        git(origin, "init", "-q", "-b", "main");
        git(origin, "commit", "-q", "--allow-empty", "-m", "one");
        onMain = git(origin, "rev-parse", "HEAD");
        git(origin, "checkout", "-q", "-b", "topic");
        git(origin, "commit", "-q", "--allow-empty", "-m", "two");
        offMain = git(origin, "rev-parse", "HEAD");
        git(repo, "clone", "-q", origin, "work");
    });
    afterAll(() => fs.rmSync(repo, { recursive: true, force: true }));

    it("is started by hand with a stack from the table and a commit", () => {
        expect(Object.keys(doc.on)).toEqual(["workflow_dispatch"]);
        expect(doc.on["workflow_dispatch"].inputs.stack).toMatchObject({ type: "choice", options: [...ENVIRONMENTS], required: true });
        expect(doc.on["workflow_dispatch"].inputs.commit).toMatchObject({ type: "string", required: true });
        expect(job.steps[0]!.with).toEqual({ "persist-credentials": false, ref: "${{ inputs.commit }}", "fetch-depth": 0 });
        expect(job.environment).toBe("${{ inputs.stack }}");
        expect(job.concurrency).toEqual({ group: stackGroup("${{ inputs.stack }}"), "cancel-in-progress": false });
    });

    it.each([
        ["a commit on main", () => onMain, 0, ""],
        ["a short SHA", () => onMain.slice(0, 12), 1, "is not a full 40-character SHA"],
        ["a commit main never had", () => offMain, 1, "is not on main; only what main went through may be promoted"],
        ["a shell injection attempt", () => '$(touch pwned)"; touch pwned; "', 1, "is not a full 40-character SHA"],
    ])("accepts only a full SHA on main: %s", (_what, commit, status, message) => {
        const check = job.steps.find((s) => s.name === "the commit is a full SHA on main")!;
        // The input reaches the script through the environment, never through the script's text.
        expect(check.run).not.toContain("${{");
        expect(check.env).toEqual({ COMMIT: "${{ inputs.commit }}" });
        let result = { status: 0, out: "" };
        try {
            execFileSync("bash", ["-c", check.run!], {
                cwd: path.join(repo, "work"),
                env: { ...process.env, COMMIT: commit() },
                encoding: "utf8",
                stdio: "pipe",
            });
        } catch (err) {
            const e = err as { status: number; stdout: string };
            result = { status: e.status, out: e.stdout };
        }
        expect(result.status).toBe(status);
        expect(result.out).toContain(message);
        expect(fs.existsSync(path.join(repo, "work", "pwned"))).toBe(false);
    });
});

describe("every step of every workflow", () => {
    const all = Object.keys(WORKFLOWS).flatMap((file) => expand(load(file)).map((j) => ({ file, ...j })));
    const rootScripts = (JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;

    it("runs only npm scripts that exist, in projects that have a lock file", () => {
        const runs = all.flatMap((j) => j.steps.flatMap((s) => (s.run ? s.run.split("\n") : [])));
        const npm = runs.filter((r) => /^\s*npm /.test(r));
        expect(npm.length).toBeGreaterThan(0);
        for (const line of npm) {
            const words = line.trim().split(/\s+/);
            const prefix = words.includes("--prefix") ? words[words.indexOf("--prefix") + 1]! : ".";
            const project = path.join(ROOT, prefix);
            const scripts = (JSON.parse(fs.readFileSync(path.join(project, "package.json"), "utf8")) as { scripts?: Record<string, string> }).scripts ?? {};
            const cmd = words[1]!;
            if (cmd === "ci") expect(fs.existsSync(path.join(project, "package-lock.json")), line).toBe(true);
            else if (cmd === "test") expect(scripts["test"], line).toBeDefined();
            else if (cmd === "run") expect(scripts[words[2]!], `${line}: no script '${words[2]}' in ${prefix}/package.json`).toBeDefined();
            else throw new Error(`unexpected npm command in a workflow: ${line}`);
        }
        expect(Object.keys(rootScripts)).toEqual(expect.arrayContaining(["typecheck", "lint", "test"]));
    });

    it("runs only pulumi commands that exist: the action's commands, and the CLI's where a step calls it", () => {
        const steps = all.flatMap((j) => pulumiSteps(j.steps));
        // A preview and a promotion per stack, and an up per stack on main.
        expect(steps.length).toBe(3 * ENVIRONMENTS.length);
        for (const s of steps) expect(ACTION_COMMANDS).toContain(s.with!["command"]);
        const cli = all.flatMap((j) => j.steps.flatMap((s) => [...(s.run ?? "").matchAll(/(?:^|[;&|]\s*)pulumi\s+([a-z-]+)/gm)].map((m) => m[1]!)));
        const known = [
            "about",
            "cancel",
            "config",
            "console",
            "convert",
            "deployment",
            "destroy",
            "env",
            "import",
            "install",
            "login",
            "logout",
            "new",
            "org",
            "package",
            "plugin",
            "policy",
            "preview",
            "refresh",
            "schema",
            "stack",
            "state",
            "up",
            "version",
            "whoami",
        ];
        for (const c of cli) expect(known, `pulumi ${c}`).toContain(c);
    });

    // The CLI the workflows pin, when toolchain/toolchain.sh has built it here.
    const cache = process.env["PROGRESSION_CACHE"] ?? path.join(process.env["XDG_CACHE_HOME"] ?? path.join(os.homedir(), ".cache"), "env-progression");
    const pinnedCli = path.join(cache, "toolchain", `pulumi-${pulumiVersion()}`, "bin", "pulumi");
    it.skipIf(!fs.existsSync(pinnedCli))("are commands of the pinned pulumi CLI, with the policy flags the action passes", () => {
        const commands = new Set(all.flatMap((j) => pulumiSteps(j.steps).map((s) => s.with!["command"] as string)));
        expect([...commands].sort()).toEqual(["preview", "up"]);
        for (const c of commands) {
            const help = execFileSync(pinnedCli, [c, "--help"], { encoding: "utf8", env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: "true" } });
            for (const flag of ["--stack", "--policy-pack", "--policy-pack-config"]) expect(help, `pulumi ${c} ${flag}`).toContain(`${flag} `);
        }
    });

    it("gives the pulumi steps the pinned CLI, an existing pack and the stack's own config file", () => {
        for (const j of all) {
            for (const s of pulumiSteps(j.steps)) {
                const w = s.with!;
                expect(w["pulumi-version"]).toBe(pulumiVersion());
                expect(w["work-dir"]).toBe(".");
                expect(fs.existsSync(path.join(ROOT, w["policyPacks"] as string, "PulumiPolicy.yaml"))).toBe(true);
                expect(j.stack).toBeDefined();
                const config = w["policyPackConfigs"] as string;
                expect(config).toBe(`policy/config/${j.stack}.json`);
                expect(JSON.parse(fs.readFileSync(path.join(ROOT, config), "utf8"))).toEqual(packConfig(j.stack as (typeof ENVIRONMENTS)[number]));
                expect(w["stack-name"]).toBe(`\${{ vars.PULUMI_ORGANIZATION }}/${j.stack}`);
            }
        }
    });

    it("sets up Node from .node-version (Node 24) with the npm cache before npm runs", () => {
        expect(fs.readFileSync(path.join(ROOT, ".node-version"), "utf8").trim()).toMatch(/^24\./);
        for (const j of all) {
            const firstNpm = j.steps.findIndex((s) => s.run?.startsWith("npm"));
            const setup = j.steps.findIndex((s) => s.uses === ACTIONS.setupNode.uses);
            expect(setup, `${j.file} ${j.job}`).toBeGreaterThanOrEqual(0);
            expect(setup).toBeLessThan(firstNpm);
            expect(j.steps[setup]!.with).toMatchObject({ "node-version-file": ".node-version", cache: "npm" });
        }
    });

    it("write no secret value: Pulumi tokens come from OIDC, everything else from the stacks' ESC environments", () => {
        for (const file of Object.keys(WORKFLOWS)) expect(secretProblems(read(file)), file).toEqual([]);
        // No job-level env: nothing is visible to every step.
        for (const j of all) expect(j.raw.env, `${j.file} ${j.job}`).toBeUndefined();
        for (const file of Object.keys(WORKFLOWS)) expect(read(file)).not.toContain(`secrets.${TOKEN_VARIABLE}`);
    });

    it("would be caught writing one", () => {
        const leaky = read("main.yml")
            .replace("${{ steps.pulumi-token.outputs.pulumi-access-token }}", `pul-${"0a".repeat(20)}`)
            .replace(
                "npm run lint",
                "npm run lint\n        env:\n          DATABASE_URL: postgres://app:hunter2@db:5432/app\n          KUBECONFIG_DATA: ${{ secrets.KUBECONFIG_DATA }}",
            )
            .replace("runs-on: ubuntu-24.04\n    timeout-minutes: 45", "runs-on: ubuntu-24.04\n    env:\n      PULUMI_ACCESS_TOKEN: ${{ secrets.PULUMI_ACCESS_TOKEN }}\n    timeout-minutes: 45");
        expect(secretProblems(leaky)).toEqual([
            `.jobs.test.steps[5].env.DATABASE_URL is neither a \${{ secrets.NAME }} reference nor the OIDC token: "postgres://app:hunter2@db:5432/app"`,
            `.jobs.publish-pack.steps[6].env.PULUMI_ACCESS_TOKEN is neither a \${{ secrets.NAME }} reference nor the OIDC token: "pul-${"0a".repeat(20)}"`,
            "contains a Pulumi access token",
            "contains a URL with credentials",
            "reads secrets.KUBECONFIG_DATA; only DELIVERY_NOTIFY_URL is a repository secret: Pulumi tokens come from OIDC, the rest from each stack's ESC environment",
            "reads secrets.PULUMI_ACCESS_TOKEN; only DELIVERY_NOTIFY_URL is a repository secret: Pulumi tokens come from OIDC, the rest from each stack's ESC environment",
        ]);
    });
});
