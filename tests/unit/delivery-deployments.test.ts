// The delivery/deployments/ program under Pulumi mocks: the settings, webhooks, schedules and policy groups
// it registers for the environment table, and the promotion chain they form. Its provider plugin
// (pulumi-resource-pulumiservice) cannot be built here; the mocks record what the engine would be
// asked to create. delivery/deployments/ is its own npm project, so its SDK copy is the one mocked.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ENVIRONMENTS, ENVIRONMENT_RULES } from "../../config/environments";
import { readStackRaw } from "../../config/stackFile";
import { validateConfig } from "../../config/schema";
import { PACK_NAME } from "../../policy/pack";
import { readDeploymentsConfig } from "../../delivery/deployments/config";
import type { DeliveryPath } from "../../delivery/settings";
import { pulumiVersion } from "../../delivery/workflows";
import { type DeliveryTable, NODE_SETUP, promotions } from "../../delivery/deployments/plan";

const ROOT = path.resolve(__dirname, "../..");
const DEPLOYMENTS = path.join(ROOT, "delivery", "deployments");
const T = {
    settings: "pulumiservice:index:DeploymentSettings",
    webhook: "pulumiservice:index:Webhook",
    drift: "pulumiservice:index:DriftSchedule",
    ttl: "pulumiservice:index:TtlSchedule",
    policy: "pulumiservice:index:PolicyGroup",
    issuer: "pulumiservice:index:OidcIssuer",
    team: "pulumiservice:index:Team",
    stackPermission: "pulumiservice:index:TeamStackPermission",
    envPermission: "pulumiservice:index:TeamEnvironmentPermission",
};
const NOTIFY = "https://hooks.slack.com/services/T0/B0/x";

interface Recorded {
    readonly type: string;
    readonly name: string;
    readonly inputs: Record<string, any>;
}

const sdkPath = () => {
    try {
        return createRequire(path.join(DEPLOYMENTS, "index.ts")).resolve("@pulumi/pulumi");
    } catch {
        throw new Error("delivery/deployments/node_modules is missing: delivery/deployments/ is its own npm project. Fix: npm --prefix deployments ci (toolchain/run does it)");
    }
};

type Sdk = typeof import("@pulumi/pulumi");

async function mocked(stack: string, config: Record<string, string>, armed: DeliveryPath): Promise<{ pulumi: Sdk; recorded: Recorded[] }> {
    vi.resetModules();
    // delivery/settings.ts arms one path for the whole repository; each test chooses which.
    vi.doMock("../../delivery/settings", async (original) => {
        const actual = await original<typeof import("../../delivery/settings")>();
        return { ...actual, DELIVERY: { ...actual.DELIVERY, armed } };
    });
    const pulumi = (await import(sdkPath())) as Sdk;
    const recorded: Recorded[] = [];
    await pulumi.runtime.setMocks(
        {
            newResource(args) {
                recorded.push({ type: args.type, name: args.name, inputs: args.inputs });
                return { id: `${args.name}-id`, state: args.inputs };
            },
            call(args) {
                throw new Error(`unexpected call to ${args.token}`);
            },
        },
        "env-progression-deployments",
        stack,
        false,
        "acme",
    );
    pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(config).map(([k, v]) => [`env-progression-deployments:${k}`, v])));
    return { pulumi, recorded };
}

/** Runs delivery/deployments/index.ts with this stack config; what it registered and what it exported. */
async function runProgram(config: Record<string, string>, armed: DeliveryPath = "deployments") {
    const { pulumi, recorded } = await mocked("acme", config, armed);
    const program = await import("../../delivery/deployments/index");
    const settle = <T>(o: { apply: (f: (v: T) => void) => unknown }) => new Promise<T>((resolve) => o.apply(resolve));
    const outputs = {
        stacks: await settle<string[]>(program.stacks),
        chain: await settle<string[]>(program.chain),
        driftChecked: await settle<string[]>(program.driftChecked),
    };
    await pulumi.runtime.disconnect();
    return { recorded, outputs };
}

/** Runs the Delivery component on a table of the test's own. */
let lastRecorded: Recorded[] = [];
async function runTable(table: DeliveryTable) {
    const { pulumi, recorded } = await mocked("acme", {}, "deployments");
    lastRecorded = recorded;
    const { Delivery } = await import("../../delivery/deployments/delivery");
    const options = readDeploymentsConfig({ repository: "acme/shop", reviewStacks: "false", notifyUrl: NOTIFY }, "acme", new Date(), ROOT, "deployments").delivery;
    // The table's extra environments have no policy config files; give them dev's.
    try {
        const delivery = new Delivery("t", {
            table,
            options: { ...options, policyPack: { ...options.policyPack, config: () => ({ all: "advisory" }) } },
            tokenSeconds: 3600,
        });
        const chain = await new Promise<string[]>((r) => delivery.chain.apply(r));
        return { recorded, chain };
    } finally {
        await pulumi.runtime.disconnect();
    }
}

const of = (recorded: Recorded[], type: string) => recorded.filter((r) => r.type === type);
const promotionHooks = (recorded: Recorded[]) => of(recorded, T.webhook).filter((w) => w.inputs["format"] === "pulumi_deployments");

/** Follows the promotion webhooks from the stack that deploys on a push; the stacks in the order they deploy. */
function walkChain(settings: Recorded[], hooks: Recorded[]): string[] {
    const pushed = settings.filter((s) => s.inputs["vcs"]["deployCommits"] === true).map((s) => s.inputs["stack"] as string);
    expect(pushed, "exactly one stack deploys on a push").toHaveLength(1);
    const order = [pushed[0]!];
    const visited = new Set(order);
    for (;;) {
        const project = settings[0]!.inputs["project"] as string;
        const next = hooks
            .filter((h) => h.inputs["stackName"] === order[order.length - 1])
            .map((h) => (h.inputs["payloadUrl"] as string).replace(`${project}/`, ""));
        if (next.length === 0) return order;
        expect(next, `one promotion out of ${order[order.length - 1]}`).toHaveLength(1);
        expect(visited.has(next[0]!), `cycle through ${next[0]}`).toBe(false);
        visited.add(next[0]!);
        order.push(next[0]!);
    }
}

describe("delivery/deployments/ on the environment table, with Pulumi Deployments armed", () => {
    let run: Awaited<ReturnType<typeof runProgram>>;
    beforeAll(async () => {
        run = await runProgram({ repository: "acme/env-progression", reviewSmokeUrl: "https://{namespace}.review.acme.dev", notifyUrl: NOTIFY });
    }, 60_000);

    it("gives every environment stack deployment settings, in table order, and the review template last", () => {
        expect(of(run.recorded, T.settings).map((s) => s.inputs["stack"])).toEqual([...ENVIRONMENTS, "pr"]);
        expect(run.outputs.stacks).toEqual([...ENVIRONMENTS, "pr"]);
        for (const s of of(run.recorded, T.settings)) {
            expect(s.inputs["organization"]).toBe("acme");
            expect(s.inputs["project"]).toBe("env-progression");
            expect(s.inputs["sourceContext"]).toEqual({ git: { branch: "refs/heads/main", repoDir: "." } });
            expect(s.inputs["vcs"]["provider"]).toBe("github");
            expect(s.inputs["vcs"]["repository"]).toBe("acme/env-progression");
        }
    });

    it("deploys on a push only the first environment; the others are promoted, and pull requests preview every stack but prod", () => {
        const byStack = Object.fromEntries(of(run.recorded, T.settings).map((s) => [s.inputs["stack"], s.inputs["vcs"]]));
        // Spelled out for every stack: the provider defaults deployCommits to true.
        expect(ENVIRONMENTS.map((e) => [e, byStack[e].deployCommits, byStack[e].previewPullRequests, byStack[e].pullRequestTemplate])).toEqual([
            ["dev", true, true, false],
            ["staging", false, true, false],
            // A preview runs the pull request's code with a token that may update the stack.
            ["prod", false, false, false],
        ]);
        expect(byStack["pr"]).toMatchObject({ deployCommits: false, previewPullRequests: false, pullRequestTemplate: true });
    });

    it("filters each stack's pull request previews to the program and its own stack file, and every filter matches a file", () => {
        const settings = of(run.recorded, T.settings);
        for (const s of settings) {
            const paths = s.inputs["vcs"]["paths"] as string[];
            expect(paths).toContain(`Pulumi.${s.inputs["stack"]}.yaml`);
            for (const other of [...ENVIRONMENTS, "pr"].filter((e) => e !== s.inputs["stack"])) expect(paths).not.toContain(`Pulumi.${other}.yaml`);
            for (const p of paths) {
                const dir = p.endsWith("/**") ? p.slice(0, -3) : p;
                expect(fs.existsSync(path.join(ROOT, dir)), `${p} matches nothing in the repository`).toBe(true);
            }
        }
        // Every local module the program loads is under a filter, so a change to it previews every stack.
        const filters = settings[0]!.inputs["vcs"]["paths"] as string[];
        const covered = (file: string) => filters.some((p) => (p.endsWith("/**") ? file.startsWith(p.slice(0, -2)) : file === p));
        for (const file of programModules()) expect(covered(file), `${file} is loaded by pulumi up but no path filter covers it`).toBe(true);
    });

    it("installs the project's Node before anything runs, and the dependencies with it", () => {
        for (const s of of(run.recorded, T.settings)) {
            const ctx = s.inputs["operationContext"];
            expect(ctx["preRunCommands"].slice(0, NODE_SETUP.length)).toEqual(NODE_SETUP);
            expect(ctx["options"]).toMatchObject({ skipInstallDependencies: true, skipIntermediateDeployments: true, shell: "/bin/bash" });
            expect(ctx["environmentVariables"]).toEqual({ CI: "true", PULUMI_SKIP_UPDATE_CHECK: "true", NPM_CONFIG_UPDATE_NOTIFIER: "false" });
        }
    });

    it("chains dev to staging to prod with deployment webhooks on update_succeeded only: acyclic, in table order", () => {
        const settings = of(run.recorded, T.settings).filter((s) => s.inputs["stack"] !== "pr");
        const hooks = promotionHooks(run.recorded);
        expect(hooks.map((h) => [h.inputs["stackName"], h.inputs["payloadUrl"]])).toEqual([
            ["dev", "env-progression/staging"],
            ["staging", "env-progression/prod"],
        ]);
        for (const h of hooks) {
            expect(h.inputs["filters"]).toEqual(["update_succeeded"]);
            expect(h.inputs).toMatchObject({ organizationName: "acme", projectName: "env-progression" });
        }
        expect(walkChain(settings, hooks)).toEqual([...ENVIRONMENTS]);
        expect(run.outputs.chain).toEqual(["dev -> staging", "staging -> prod"]);
    });

    it("declares the promotion into prod, which requires approval, inactive unless unattendedPromotion is set", async () => {
        const active = (r: Recorded[]) => promotionHooks(r).map((h) => [h.inputs["payloadUrl"], h.inputs["active"]]);
        expect(ENVIRONMENT_RULES.prod.requiresApproval).toBe(true);
        expect(active(run.recorded)).toEqual([
            ["env-progression/staging", true],
            ["env-progression/prod", false],
        ]);
        const unattended = await runProgram({ repository: "acme/env-progression", unattendedPromotion: "true", notifyUrl: NOTIFY });
        expect(active(unattended.recorded)).toEqual([
            ["env-progression/staging", true],
            ["env-progression/prod", true],
        ]);
    });

    it("detects drift in staging and prod on the table's schedules and corrects none", () => {
        const drift = of(run.recorded, T.drift).map((d) => [d.inputs["stack"], d.inputs["scheduleCron"], d.inputs["autoRemediate"]]);
        expect(drift).toEqual(
            ENVIRONMENTS.filter((e) => ENVIRONMENT_RULES[e].driftDetection).map((e) => [e, ENVIRONMENT_RULES[e].driftDetection!.schedule, false]),
        );
        expect(drift.map((d) => d[0])).toEqual(["staging", "prod"]);
        expect(run.outputs.driftChecked).toEqual(["staging", "prod"]);
    });

    it("enables the policy pack for each stack at its environment's config, at the version policy/package.json gives", () => {
        const version = (JSON.parse(fs.readFileSync(path.join(ROOT, "policy", "package.json"), "utf8")) as { version: string }).version;
        const groups = of(run.recorded, T.policy);
        expect(groups.map((g) => g.inputs["stacks"])).toEqual(ENVIRONMENTS.map((e) => [{ name: e, routingProject: "env-progression" }]));
        for (const [i, g] of groups.entries()) {
            const env = ENVIRONMENTS[i]!;
            expect(g.inputs["mode"]).toBe("preventative");
            expect(g.inputs["policyPacks"]).toEqual([
                { name: PACK_NAME, versionTag: version, config: JSON.parse(fs.readFileSync(path.join(ROOT, "policy", "config", `${env}.json`), "utf8")) },
            ]);
        }
        // dev's previews report violations, staging's and prod's block on them.
        expect(groups.map((g) => g.inputs["policyPacks"][0].config.all)).toEqual(ENVIRONMENTS.map((e) => ENVIRONMENT_RULES[e].enforcement));
    });

    it("makes pr the review stack template, on dev's cluster, whose pre-run command gives each review stack its namespace and URL", () => {
        const pr = of(run.recorded, T.settings).find((s) => s.inputs["stack"] === "pr")!;
        expect(pr.inputs["operationContext"]["options"]["deleteAfterDestroy"]).toBe(true);
        expect(pr.inputs["operationContext"]["preRunCommands"].at(-1)).toBe(
            `delivery/deployments/review-stack.sh "$PULUMI_CI_STACK" 'https://{namespace}.review.acme.dev'`,
        );
        const ttl = of(run.recorded, T.ttl);
        expect(ttl.map((t) => [t.inputs["stack"], t.inputs["deleteAfterDestroy"]])).toEqual([["pr", false]]);
        const days = (Date.parse(ttl[0]!.inputs["timestamp"]) - Date.now()) / 86_400_000;
        expect(days).toBeGreaterThan(29.9);
        expect(days).toBeLessThanOrEqual(30);
    });

    it("sends failures and drift reports to notifyUrl as a secret when one is set, and nowhere else otherwise", async () => {
        const unnotified = await runProgram({ repository: "acme/env-progression" }, "actions");
        expect(of(unnotified.recorded, T.webhook).filter((w) => w.inputs["format"] !== "pulumi_deployments")).toEqual([]);
        const notified = await runProgram({ repository: "acme/env-progression", notifyUrl: NOTIFY, reviewStacks: "false" });
        const reports = of(notified.recorded, T.webhook).filter((w) => w.inputs["format"] === "slack");
        // The mock monitor hands a secret input over wrapped with Pulumi's secret signature.
        for (const w of reports)
            expect(w.inputs["payloadUrl"]).toEqual({
                "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                value: "https://hooks.slack.com/services/T0/B0/x",
            });
        expect(reports.map((w) => [w.inputs["stackName"], w.inputs["filters"]])).toEqual([
            // A failed update or deployment of any environment is reported.
            ...ENVIRONMENTS.map((e) => [e, ["update_failed", "deployment_failed"]]),
            ["staging", ["drift_detected", "drift_detection_failed"]],
            ["prod", ["drift_detected", "drift_detection_failed"]],
        ]);
        expect(of(notified.recorded, T.settings).map((s) => s.inputs["stack"])).toEqual([...ENVIRONMENTS]);
        expect(of(notified.recorded, T.ttl)).toEqual([]);
    });

    it("reports every configuration problem at once, each with its fix", async () => {
        await expect(
            runProgram({ branch: "refs/heads/main", unattendedPromotion: "yes", reviewSmokeUrl: "https://review.acme.dev", typo: "1" }),
        ).rejects.toThrow(
            /The deployments stack has 6 configuration problems:\n {2}- env-progression-deployments:repository is not set: the GitHub repository the stacks deploy from\. Fix: pulumi config set repository <owner>\/<name>\n {2}- env-progression-deployments:branch: "refs\/heads\/main" is not a branch name\..*\n {2}- env-progression-deployments:unattendedPromotion: "yes" is not a boolean\. Allowed: true or false\. Fix: pulumi config set unattendedPromotion false\n {2}- env-progression-deployments:reviewSmokeUrl: "https:\/\/review\.acme\.dev" is not a URL template\..*\n {2}- env-progression-deployments:notifyUrl is not set, and Pulumi Deployments is the armed path: a failed update or deployment would tell no one\. Fix: pulumi config set --secret notifyUrl .*\n {2}- env-progression-deployments:typo: is not a setting of this program\..* Fix: pulumi config rm typo$/,
        );
    });
});

describe("delivery/deployments/ with GitHub Actions armed", () => {
    let run: Awaited<ReturnType<typeof runProgram>>;
    beforeAll(async () => {
        run = await runProgram({ repository: "acme/env-progression" }, "actions");
    }, 60_000);

    it("starts no deployment on a push, a pull request or a successful update: GitHub Actions deploys", () => {
        const vcs = of(run.recorded, T.settings).map((s) => [s.inputs["stack"], s.inputs["vcs"]["deployCommits"], s.inputs["vcs"]["previewPullRequests"], s.inputs["vcs"]["pullRequestTemplate"]]);
        expect(vcs).toEqual([...ENVIRONMENTS.map((e) => [e, false, false, false]), ["pr", false, false, false]]);
        expect(promotionHooks(run.recorded).map((h) => [h.inputs["payloadUrl"], h.inputs["active"], h.inputs["displayName"]])).toEqual([
            ["env-progression/staging", false, "promote dev to staging (inactive: GitHub Actions is the armed path)"],
            ["env-progression/prod", false, "promote staging to prod (inactive: GitHub Actions is the armed path)"],
        ]);
        // Drift is still detected: a detection changes nothing.
        expect(of(run.recorded, T.drift).map((d) => d.inputs["autoRemediate"])).toEqual([false, false]);
    });

    it("pins every stack's executor image to the CLI the toolchain and the workflows run", () => {
        const images = of(run.recorded, T.settings).map((s) => s.inputs["executorContext"]);
        expect(new Set(images.map((i) => JSON.stringify(i)))).toEqual(new Set([JSON.stringify({ executorImage: `pulumi/pulumi-nodejs:${pulumiVersion()}` })]));
        expect(pulumiVersion()).toBe("3.276.0");
    });

    it("trusts GitHub's OIDC subjects for one team each: an environment's jobs, the pull requests' previews, the pack publisher", () => {
        const [issuer] = of(run.recorded, T.issuer);
        expect(issuer!.inputs).toMatchObject({ organization: "acme", url: "https://token.actions.githubusercontent.com", maxExpirationSeconds: 45 * 60 });
        const policies = (issuer!.inputs["policies"] as { rules: { sub: string; aud: string }; tokenType: string; teamName?: string; authorizedPermissions?: string[] }[]).map(
            (p) => [p.rules.sub, p.tokenType, p.teamName ?? p.authorizedPermissions],
        );
        expect(policies).toEqual([
            ["repo:acme/env-progression:environment:dev", "team", "env-progression-dev"],
            ["repo:acme/env-progression:environment:staging", "team", "env-progression-staging"],
            ["repo:acme/env-progression:environment:prod", "team", "env-progression-prod"],
            ["repo:acme/env-progression:pull_request", "team", "env-progression-preview"],
            ["repo:acme/env-progression:environment:policy-pack", "organization", ["admin"]],
        ]);
        for (const p of issuer!.inputs["policies"] as { rules: { aud: string }; decision: string }[]) {
            expect(p.rules.aud).toBe("urn:pulumi:org:acme");
            expect(p.decision).toBe("allow");
        }
    });

    it("lets each environment's team update its own stack and read its upstreams; the preview team reads and never updates", () => {
        const perms = of(run.recorded, T.stackPermission).map((p) => `${p.inputs["team"]} ${p.inputs["permission"] === 102 ? "edits" : p.inputs["permission"] === 101 ? "reads" : "?"} ${p.inputs["stack"]}`);
        expect(perms.sort()).toEqual(
            [
                "env-progression-dev edits dev",
                "env-progression-staging edits staging",
                "env-progression-staging reads dev",
                "env-progression-prod edits prod",
                "env-progression-prod reads staging",
                "env-progression-prod reads dev",
                "env-progression-preview reads dev",
                "env-progression-preview reads staging",
                "env-progression-preview reads prod",
            ].sort(),
        );
        const opens = of(run.recorded, T.envPermission).filter((p) => p.inputs["team"] === "env-progression-preview").map((p) => p.inputs["environment"]);
        expect(opens).toEqual(["dev-preview", "staging-preview", "prod-preview", "promotion"]);
        expect(of(run.recorded, T.team).map((t) => [t.inputs["name"], t.inputs["teamType"]])).toEqual(
            ["dev", "staging", "prod", "preview"].map((e) => [`env-progression-${e}`, "pulumi"]),
        );
    });

    it("refuses a policy pack version policy/published.json does not record", () => {
        const repo = fs.mkdtempSync(path.join(os.tmpdir(), "deployments-repo-"));
        try {
            fs.mkdirSync(path.join(repo, "policy"));
            fs.mkdirSync(path.join(repo, "toolchain"));
            fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(repo, "Pulumi.yaml"));
            fs.copyFileSync(path.join(ROOT, "toolchain", "versions.env"), path.join(repo, "toolchain", "versions.env"));
            fs.writeFileSync(path.join(repo, "policy", "package.json"), JSON.stringify({ version: "9.9.9" }));
            fs.writeFileSync(path.join(repo, "policy", "published.json"), JSON.stringify({ versions: {} }));
            expect(() => readDeploymentsConfig({ repository: "acme/shop" }, "acme", new Date(), repo, "actions")).toThrow(
                "policy/package.json's version 9.9.9 is not recorded in policy/published.json, so no pipeline publishes it and a policy group enabling it would enforce nothing. Fix: toolchain/run tsx delivery/pack.ts version, and commit both files",
            );
        } finally {
            fs.rmSync(repo, { recursive: true, force: true });
        }
    });
});

describe("adding an environment to the table", () => {
    it("adds its settings, policy group and promotion webhook, and keeps the chain in table order", async () => {
        const table: DeliveryTable = {
            order: ["dev", "qa", "staging", "prod"],
            rules: {
                ...ENVIRONMENT_RULES,
                qa: { promotesFrom: "dev", driftDetection: undefined, requiresApproval: false },
                staging: { ...ENVIRONMENT_RULES.staging, promotesFrom: "qa" },
            },
        };
        const { recorded, chain } = await runTable(table);
        expect(of(recorded, T.settings).map((s) => s.inputs["stack"])).toEqual(["dev", "qa", "staging", "prod"]);
        expect(of(recorded, T.policy).map((g) => g.inputs["name"])).toEqual([
            "env-progression-dev",
            "env-progression-qa",
            "env-progression-staging",
            "env-progression-prod",
        ]);
        expect(chain).toEqual(["dev -> qa", "qa -> staging", "staging -> prod"]);
        expect(walkChain(of(recorded, T.settings), promotionHooks(recorded))).toEqual(["dev", "qa", "staging", "prod"]);
        expect(of(recorded, T.settings).find((s) => s.inputs["stack"] === "qa")!.inputs["vcs"]["deployCommits"]).toBe(false);
    });

    it.each([
        [
            "a promotion from a later environment",
            { order: ["dev", "staging"], rules: { dev: { promotesFrom: undefined }, staging: { promotesFrom: "prod" } } },
            'staging: promotesFrom "prod" is no environment. Allowed: an environment listed before it (dev). Fix: list prod before staging, or promote from one that is.',
        ],
        [
            "a cycle",
            {
                order: ["dev", "staging", "prod"],
                rules: { dev: { promotesFrom: undefined }, staging: { promotesFrom: "prod" }, prod: { promotesFrom: "staging" } },
            },
            'staging: promotesFrom "prod" is listed after staging.',
        ],
        [
            "a second environment promoting from nothing",
            { order: ["dev", "staging"], rules: { dev: { promotesFrom: undefined }, staging: { promotesFrom: undefined } } },
            'staging: only the first environment (dev) may promote from nothing; every later one needs promotesFrom. Fix: promotesFrom: "dev".',
        ],
        [
            "an environment without rules",
            { order: ["dev", "qa"], rules: { dev: { promotesFrom: undefined } } },
            "qa: listed in ENVIRONMENTS but has no rules. Fix: add qa to ENVIRONMENT_RULES.",
        ],
    ])("refuses %s, naming the fix", (_what, t, message) => {
        const table = {
            order: t.order,
            rules: Object.fromEntries(Object.entries(t.rules).map(([k, v]) => [k, { driftDetection: undefined, requiresApproval: false, ...v }])),
        } as DeliveryTable;
        expect(() => promotions(table)).toThrow(message);
    });

    it("refuses automatic drift correction where it would promote onward or skip an approval, registering nothing", async () => {
        const remediate = { schedule: "0 * * * *", remediate: true };
        const attempt = runTable({
            order: ENVIRONMENTS,
            rules: { ...ENVIRONMENT_RULES, staging: { ...ENVIRONMENT_RULES.staging, driftDetection: remediate } },
        });
        await expect(attempt).rejects.toThrow(
            "staging: driftDetection.remediate is true, but a remediation is an `up`, and a successful `up` of staging starts the deployment of prod. Fix: remediate: false.",
        );
        expect(lastRecorded).toEqual([]);
        await expect(
            runTable({ order: ENVIRONMENTS, rules: { ...ENVIRONMENT_RULES, prod: { ...ENVIRONMENT_RULES.prod, driftDetection: remediate } } }),
        ).rejects.toThrow("prod: driftDetection.remediate is true, but prod requires approval");
    });
});

describe("the commands a deployment runs before Pulumi", () => {
    let tmp: string;
    beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), "delivery-prerun-"))));
    afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it("put a Node the program can run on first on the PATH handed to the Pulumi operation", () => {
        const envFile = path.join(tmp, "PULUMI_ENV");
        const basePath = process.env["PATH"] ?? "";
        execFileSync("bash", ["-c", NODE_SETUP[0]!], { cwd: ROOT, env: { ...process.env, PULUMI_ENV: envFile }, stdio: ["ignore", "ignore", "pipe"] });
        const line = fs.readFileSync(envFile, "utf8").trim();
        expect(line).toMatch(/^PATH=[^:]+:/);
        // First the Node toolchain/node.sh found or installed, then the executor's PATH as it was.
        const nodeDir = line.slice("PATH=".length).split(":")[0]!;
        expect(line).toBe(`PATH=${nodeDir}:${basePath}`);
        const [major, minor] = execFileSync(path.join(nodeDir, "node"), ["-p", "process.versions.node"], { encoding: "utf8" }).trim().split(".").map(Number);
        expect(major! > 22 || (major === 22 && minor! >= 19), `node ${major}.${minor} in ${nodeDir}`).toBe(true);
    }, 120_000);

    it("give a review stack a namespace of its own and its smoke URLs (live and preview), which the program accepts", () => {
        const bin = path.join(tmp, "bin");
        fs.mkdirSync(bin, { recursive: true });
        const log = path.join(tmp, "pulumi.log");
        fs.writeFileSync(path.join(bin, "pulumi"), `#!/bin/sh\nprintf '%s\\n' "$*" >> ${JSON.stringify(log)}\n`, { mode: 0o755 });
        const stack = "pr-Acme-env-progression-1234";
        execFileSync(path.join(DEPLOYMENTS, "review-stack.sh"), [stack, "https://{namespace}.review.acme.dev"], {
            env: { ...process.env, PATH: `${bin}:${process.env["PATH"]}` },
            stdio: "pipe",
        });
        expect(fs.readFileSync(log, "utf8").trim().split("\n")).toEqual([
            `config set --stack ${stack} env-progression:namespace review-pr-acme-env-progression-1234`,
            `config set --stack ${stack} env-progression:smokeBaseUrl https://review-pr-acme-env-progression-1234.review.acme.dev`,
            `config set --stack ${stack} env-progression:smokePreviewUrl https://review-pr-acme-env-progression-1234-preview.review.acme.dev`,
        ]);
        // The review stack's config: Pulumi.pr.yaml plus those values, validated as the program does.
        const raw = readStackRaw("pr", path.join(ROOT, "Pulumi.pr.yaml"));
        const values = {
            ...raw.values,
            namespace: "review-pr-acme-env-progression-1234",
            smokeBaseUrl: "https://review-pr-acme-env-progression-1234.review.acme.dev",
            smokePreviewUrl: "https://review-pr-acme-env-progression-1234-preview.review.acme.dev",
            DATABASE_URL: "x",
            API_TOKEN: "y",
        };
        const config = validateConfig({ ...raw, values, secretKeys: new Set(["DATABASE_URL", "API_TOKEN"]) }, stack);
        expect([config.environment, config.namespace, config.app.replicas]).toEqual(["dev", "review-pr-acme-env-progression-1234", 1]);
        // The checks judge the candidate on its own route, never on the live one.
        expect([config.smoke.previewUrl, config.smoke.baseUrl]).toEqual([
            "https://review-pr-acme-env-progression-1234-preview.review.acme.dev",
            "https://review-pr-acme-env-progression-1234.review.acme.dev",
        ]);
    });

    it("refuse a URL template without {namespace} before changing anything", () => {
        const bin = path.join(tmp, "bin2");
        fs.mkdirSync(bin, { recursive: true });
        const log = path.join(tmp, "pulumi2.log");
        fs.writeFileSync(path.join(bin, "pulumi"), `#!/bin/sh\nprintf '%s\\n' "$*" >> ${JSON.stringify(log)}\n`, { mode: 0o755 });
        let err: { status?: number; stderr?: Buffer } = {};
        try {
            execFileSync(path.join(DEPLOYMENTS, "review-stack.sh"), ["pr-1", "https://review.acme.dev"], {
                env: { ...process.env, PATH: `${bin}:${process.env["PATH"]}` },
                stdio: "pipe",
            });
        } catch (e) {
            err = e as typeof err;
        }
        expect(err.status).toBe(2);
        expect(String(err.stderr)).toContain("URL template 'https://review.acme.dev' has no {namespace}, so every review stack would call the same URL.");
        expect(fs.existsSync(log)).toBe(false);
    });
});

describe("delivery/deployments/ as its own npm project", () => {
    it("pins the SDK and TypeScript the application pins, and the Pulumi Cloud provider exactly", () => {
        const root = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as Record<string, Record<string, string>>;
        const own = JSON.parse(fs.readFileSync(path.join(DEPLOYMENTS, "package.json"), "utf8")) as Record<string, Record<string, string>>;
        const rootPin = (name: string) => root["dependencies"]![name] ?? root["devDependencies"]![name];
        expect(own["dependencies"]).toEqual({ "@pulumi/pulumi": rootPin("@pulumi/pulumi"), "@pulumi/pulumiservice": "1.3.0" });
        expect(own["devDependencies"]).toEqual({ "@types/node": rootPin("@types/node"), typescript: rootPin("typescript") });
        // Never in the application's node_modules: the Node language host names every resource
        // package it finds there as a plugin the application needs.
        expect(rootPin("@pulumi/pulumiservice")).toBeUndefined();
    });
});

/**
 * The repository files `pulumi up` loads, relative to the root: the entry point and its builder, and
 * every source the build bundled into the program and the providers (dist/build.json, written by
 * the suite's global setup).
 */
function programModules(): string[] {
    const record = JSON.parse(fs.readFileSync(path.join(ROOT, "dist", "build.json"), "utf8")) as { bundles: Record<string, string[]> };
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { main: string };
    // Every bundle but the `progression` command's.
    const loaded = Object.entries(record.bundles).flatMap(([bundle, inputs]) => (bundle === "cli" ? [] : inputs));
    return [...new Set([pkg.main, "build/compile.js", ...loaded])].sort();
}
