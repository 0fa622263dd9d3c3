// The GitHub Actions workflows, generated from the environment table so the pipeline never
// disagrees with the program: one preview per stack on a pull request, one `up` job per stack on
// main in the table's promotion order after the policy pack is published, and a manual promotion
// of one stack at a chosen commit. Only the armed path's triggers are generated (delivery/settings.ts).
// Every job that runs pulumi gets a short-lived token of its environment's team through OIDC, has a
// timeout, unlocks its stack when cancelled, notifies a failure and writes a job summary.
//
//   toolchain/run tsx delivery/workflows.ts           rewrite .github/workflows/*.yml and .github/dependabot.yml
//   toolchain/run tsx delivery/workflows.ts --check   exit 1 if a committed file differs
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { ENVIRONMENTS, ENVIRONMENT_RULES } from "../config/environments";
import { PROMOTED_COMMIT_VAR } from "../promotion/commit";
import { DELIVERY, type DeliverySettings, environmentTeam, previewTeam } from "./settings";

/** The environment table the workflows are generated from (a test may pass one of its own). */
export interface Table {
    readonly order: readonly string[];
    readonly rules: Readonly<Record<string, { readonly promotesFrom: string | undefined; readonly requiresApproval: boolean }>>;
}
const TABLE: Table = { order: ENVIRONMENTS, rules: ENVIRONMENT_RULES };

const REPO = path.resolve(__dirname, "..");
export const WORKFLOW_DIR = path.join(REPO, ".github", "workflows");
export const DEPENDABOT_FILE = path.join(REPO, ".github", "dependabot.yml");
/** The application's Pulumi project: teams and ESC environments are named after it. */
export const PROJECT = "env-progression";

/** Actions pinned by commit: a moved tag cannot change what runs with a Pulumi token. Dependabot proposes new pins. */
export const ACTIONS = {
    checkout: { uses: "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1", version: "v7.0.1" },
    setupNode: { uses: "actions/setup-node@820762786026740c76f36085b0efc47a31fe5020", version: "v7.0.0" },
    pulumi: { uses: "pulumi/actions@8e5e406f4007fca908480587cb9893c07090f58d", version: "v7.0.0" },
    auth: { uses: "pulumi/auth-actions@141415910c3beb54e03b48e9057c204c97b956f2", version: "v2.1.0" },
} as const;

/** The GitHub Actions variable naming the Pulumi Cloud organization of the stacks. */
export const ORG_VARIABLE = "PULUMI_ORGANIZATION";
/** The variable pulumi/auth-actions exports and the CLI reads; never a repository secret. */
export const TOKEN_VARIABLE = "PULUMI_ACCESS_TOKEN";
/** The one repository secret: the failure webhook's URL (optional; it is a credential of the chat service). */
export const NOTIFY_SECRET = "DELIVERY_NOTIFY_URL";
/** The GitHub environment whose OIDC subject may receive the organization token that publishes the policy pack. */
export const PACK_ENVIRONMENT = "policy-pack";
export const POLICY_PACK = "policy";
export const policyConfigFile = (stack: string) => `policy/config/${stack}.json`;
/** One concurrency group per stack, shared by every workflow that updates it. */
export const stackGroup = (stack: string) => `pulumi-${stack}`;
export const upJob = (env: string) => `up-${env}`;
export const PACK_JOB = "publish-pack";
const RUNNER = "ubuntu-24.04";
const ORG = `\${{ vars.${ORG_VARIABLE} }}`;
const TOKEN_STEP = "pulumi-token";
const TEAM_TOKEN = "urn:pulumi:token-type:access_token:team";
const ORG_TOKEN = "urn:pulumi:token-type:access_token:organization";

/** The Pulumi CLI the runner installs: the engine the end-to-end suite runs here (toolchain/versions.env). */
export function pulumiVersion(repo: string = REPO): string {
    const m = /^PULUMI_VERSION=(\S+)$/m.exec(fs.readFileSync(path.join(repo, "toolchain", "versions.env"), "utf8"));
    if (!m) throw new Error("toolchain/versions.env has no PULUMI_VERSION line");
    return m[1]!;
}

type Step = Record<string, unknown>;
type Job = Record<string, unknown>;
export type Workflow = {
    name: string;
    on: Record<string, unknown>;
    permissions: Record<string, string>;
    concurrency?: Record<string, unknown>;
    jobs: Record<string, Job>;
};

/** Options a test may vary: the setting that arms a path, the table. */
export interface GenerateOptions {
    readonly table?: Table;
    readonly settings?: DeliverySettings;
}

// The checkout keeps no credential: no later step, and no npm install script, can push with it.
const checkout = (extra: Record<string, unknown> = {}): Step => ({ uses: ACTIONS.checkout.uses, with: { "persist-credentials": false, ...extra } });
const setupNode = (lockFiles: readonly string[]): Step => ({
    name: "Node (.node-version) with the npm cache",
    uses: ACTIONS.setupNode.uses,
    with: { "node-version-file": ".node-version", cache: "npm", "cache-dependency-path": lockFiles.join("\n") },
});
const install: Step = { run: "npm ci" };
/** pulumi/actions without a command installs the CLI and puts it on PATH, for the steps that call it. */
const pulumiCli = (): Step => ({ name: `Pulumi CLI ${pulumiVersion()}`, uses: ACTIONS.pulumi.uses, with: { "pulumi-version": pulumiVersion() } });
/** The pack at this commit builds to the digest recorded for its version: the rules run here are the published ones. */
const packCheck: Step = { name: "the policy pack is its recorded version", id: "pack", run: "npm run policy:check" };

/**
 * The OIDC exchange: GitHub's token for this job (its subject names the repository and, in an
 * environment, the environment) for a short-lived Pulumi token of one team. It runs after the
 * dependencies are installed: auth-actions v2.1.0 exports the token to every later step whatever
 * `export-environment-variables` says, so no install script ever runs with it.
 */
function authStep(tokenType: string, scope: string | undefined, minutes: number): Step {
    return {
        name: "Pulumi token (OIDC, short-lived)",
        id: TOKEN_STEP,
        uses: ACTIONS.auth.uses,
        with: {
            organization: ORG,
            "requested-token-type": tokenType,
            ...(scope ? { scope } : {}),
            // The token outlives the job by nothing: the job's timeout bounds it.
            "token-expiration": minutes * 60,
        },
    };
}
/** The token, given by name to a step that needs it (the auth step's output is masked in logs). */
const tokenEnv = { [TOKEN_VARIABLE]: `\${{ steps.${TOKEN_STEP}.outputs.pulumi-access-token }}` };
/** After the last step that needs it, later steps see an empty token. */
const forgetToken: Step = { name: "later steps get no token", if: "always()", run: `echo "${TOKEN_VARIABLE}=" >> "$GITHUB_ENV"` };

/** The pulumi/actions step: `command` on `stack` with the policy pack at the stack's config. */
function pulumiStep(command: "up" | "preview", stack: string, extra: Record<string, unknown> = {}, env: Record<string, string> = {}): Step {
    return {
        name: `pulumi ${command} ${stack}`,
        id: command,
        uses: ACTIONS.pulumi.uses,
        env: { ...tokenEnv, ...env },
        with: {
            command,
            "stack-name": `${ORG}/${stack}`,
            "work-dir": ".",
            "pulumi-version": pulumiVersion(),
            policyPacks: POLICY_PACK,
            policyPackConfigs: policyConfigFile(stack),
            "comment-on-summary": true,
            ...extra,
        },
    };
}

/** The facts delivery/report.ts reads, for a job on `stack`. */
function reportEnv(stack: string, githubEnvironment: string | undefined): Record<string, string> {
    return {
        STACK: stack,
        [ORG_VARIABLE]: ORG,
        PULUMI_VERSION: pulumiVersion(),
        ...(githubEnvironment ? { DEPLOY_ENVIRONMENT: githubEnvironment } : {}),
        PACK_VERSION: "${{ steps.pack.outputs.version }}",
        PACK_DIGEST: "${{ steps.pack.outputs.digest }}",
        JOB_STATUS: "${{ job.status }}",
    };
}

/**
 * What every job touching a stack ends with: a cancelled job unlocks its stack (`pulumi cancel`),
 * the job summary says what ran where and the record the stack exports, a failed or cancelled job
 * notifies (an annotation, the summary, the webhook when the repository sets one).
 */
function closingSteps(stack: string, githubEnvironment: string | undefined, withRecord: boolean): Step[] {
    return [
        forgetToken,
        {
            name: `unlock ${stack} after a cancel`,
            if: "cancelled()",
            env: { ...tokenEnv, STACK: `${ORG}/${stack}` },
            run: [
                '# The runner stopped `pulumi` midway: the backend still holds the stack\'s lock.',
                'pulumi cancel --yes --stack "$STACK" || echo "::notice::no update of $STACK was in progress"',
            ].join("\n"),
        },
        {
            name: "job summary",
            if: "always()",
            env: { ...reportEnv(stack, githubEnvironment), ...(withRecord ? { VERIFIED: "${{ steps.up.outputs.verified }}" } : {}) },
            run: 'npx --no-install tsx delivery/report.ts summary >> "$GITHUB_STEP_SUMMARY"',
        },
        {
            name: "notify the failure",
            if: "failure() || cancelled()",
            env: { ...reportEnv(stack, githubEnvironment), NOTIFY_URL: `\${{ secrets.${NOTIFY_SECRET} }}` },
            run: "npx --no-install tsx delivery/report.ts notify",
        },
    ];
}

/** Type-check, lint and the unit, smoke and policy tests: what every change passes first. */
function testJob(settings: DeliverySettings): Job {
    return {
        name: "type-check, lint, tests",
        "runs-on": RUNNER,
        "timeout-minutes": settings.timeoutMinutes.test,
        steps: [
            checkout(),
            setupNode(["package-lock.json", "delivery/deployments/package-lock.json"]),
            install,
            { name: "delivery/deployments/ dependencies (its own npm project)", run: "npm ci --prefix delivery/deployments" },
            { run: "npm run typecheck" },
            { run: "npm run lint" },
            { run: "npm test" },
        ],
    };
}

/** The environments whose `up` first checks parity across the chain that leads to them: those a person approves. */
export function parityChain(table: Table, env: string): string[] | undefined {
    if (!table.rules[env]?.requiresApproval) return undefined;
    const chain: string[] = [];
    for (let e: string | undefined = env; e !== undefined; e = table.rules[e]?.promotesFrom) chain.unshift(e);
    return chain.length > 1 ? chain : undefined;
}

/** `progression parity` over the chain: a violation fails the step, and the job, before `up`. */
function parityStep(chain: readonly string[]): Step {
    return {
        name: `parity ${chain.join(", ")}`,
        env: { ...tokenEnv, ORG },
        run: `bin/progression parity --stacks "${chain.map((s) => `$ORG/${s}`).join(",")}"`,
    };
}

export function pullRequestWorkflow(opts: GenerateOptions = {}): Workflow {
    const table = opts.table ?? TABLE;
    const settings = opts.settings ?? DELIVERY;
    const jobs: Record<string, Job> = { test: testJob(settings) };
    // Pulumi Deployments previews the pull requests itself when it is the armed path.
    if (settings.armed === "actions") {
        jobs["preview"] = {
            name: "preview ${{ matrix.stack }}",
            needs: "test",
            // A pull request from a fork gets no OIDC token for this repository, so it cannot preview; its tests still run.
            if: "github.event.pull_request.head.repo.full_name == github.repository",
            "runs-on": RUNNER,
            "timeout-minutes": settings.timeoutMinutes.preview,
            // No GitHub environment: the OIDC subject is the pull request's, which Pulumi Cloud
            // trusts only for the preview team's token (read-only on every stack, opening only the
            // *-preview ESC environments). comment-on-pr writes the preview into the pull request.
            permissions: { contents: "read", "pull-requests": "write", "id-token": "write" },
            strategy: { "fail-fast": false, matrix: { stack: [...table.order] } },
            steps: [
                checkout(),
                setupNode(["package-lock.json"]),
                install,
                pulumiCli(),
                packCheck,
                {
                    name: "the stack's read-only ESC environment",
                    env: { STACK: "${{ matrix.stack }}" },
                    run: [
                        "# In this checkout only: the stack file's import of its environment becomes the read-only one.",
                        `sed -i -E "s#^(\\s*-\\s*)${PROJECT}/$STACK\\s*\\$#\\1${PROJECT}/$STACK-preview#" "Pulumi.$STACK.yaml"`,
                    ].join("\n"),
                },
                authStep(TEAM_TOKEN, `team:${previewTeam(PROJECT)}`, settings.timeoutMinutes.preview),
                pulumiStep("preview", "${{ matrix.stack }}", { "comment-on-pr": true }),
                ...closingSteps("${{ matrix.stack }}", undefined, false),
            ],
        };
    }
    return {
        name: "pull request",
        on: { pull_request: { branches: ["main"] } },
        permissions: { contents: "read" },
        // A new push to the pull request supersedes the previews still running for the old one.
        concurrency: { group: "pull-request-${{ github.event.pull_request.number }}", "cancel-in-progress": true },
        jobs,
    };
}

/** Publishes the policy pack at its recorded version unless the organization has it: a version is never published twice. */
function packJob(settings: DeliverySettings): Job {
    return {
        name: "publish the policy pack",
        needs: "test",
        "runs-on": RUNNER,
        "timeout-minutes": settings.timeoutMinutes.pack,
        environment: PACK_ENVIRONMENT,
        concurrency: { group: "policy-pack", "cancel-in-progress": false },
        permissions: { contents: "read", "id-token": "write" },
        steps: [
            checkout(),
            setupNode(["package-lock.json"]),
            install,
            pulumiCli(),
            packCheck,
            // Publishing needs an organization token; only this environment's subject may receive one.
            authStep(ORG_TOKEN, undefined, settings.timeoutMinutes.pack),
            { name: "publish unless published", env: { ...tokenEnv, ORG }, run: 'toolchain/run tsx delivery/pack.ts publish "$ORG"' },
            forgetToken,
            {
                name: "notify the failure",
                if: "failure() || cancelled()",
                env: { ...reportEnv("policy-pack", PACK_ENVIRONMENT), NOTIFY_URL: `\${{ secrets.${NOTIFY_SECRET} }}` },
                run: "npx --no-install tsx delivery/report.ts notify",
            },
        ],
    };
}

/** One `up` job: the stack's GitHub environment, its team's token, parity first where a person approves. */
function upJobFor(table: Table, env: string, settings: DeliverySettings, needs: string | string[], extraEnv: Record<string, string>): Job {
    const chain = parityChain(table, env);
    return {
        name: `up ${env}`,
        needs,
        "runs-on": RUNNER,
        "timeout-minutes": settings.timeoutMinutes.up,
        // The stack's GitHub environment: where its protection rules live (prod: required reviewers,
        // main only), and the OIDC subject Pulumi Cloud trusts for this environment's team token.
        environment: env,
        concurrency: { group: stackGroup(env), "cancel-in-progress": false },
        permissions: { contents: "read", "id-token": "write" },
        steps: [
            checkout(),
            setupNode(["package-lock.json"]),
            install,
            pulumiCli(),
            packCheck,
            authStep(TEAM_TOKEN, `team:${environmentTeam(PROJECT, env)}`, settings.timeoutMinutes.up),
            ...(chain ? [parityStep(chain)] : []),
            pulumiStep("up", env, {}, extraEnv),
            ...closingSteps(env, env, true),
        ],
    };
}

export function mainWorkflow(opts: GenerateOptions = {}): Workflow {
    const table = opts.table ?? TABLE;
    const settings = opts.settings ?? DELIVERY;
    const jobs: Record<string, Job> = { test: testJob(settings), [PACK_JOB]: packJob(settings) };
    // With Pulumi Deployments armed, a push publishes the pack its policy groups enable, and deploys nothing here.
    if (settings.armed === "actions") {
        for (const env of table.order) {
            const from = table.rules[env]?.promotesFrom;
            // The record names the commit this run checked out.
            jobs[upJob(env)] = upJobFor(table, env, settings, from === undefined ? PACK_JOB : upJob(from), { [PROMOTED_COMMIT_VAR]: "${{ github.sha }}" });
        }
    }
    return {
        name: "deliver",
        // A commit that changes only documentation deploys nothing.
        on: { push: { branches: ["main"], "paths-ignore": [...settings.docsPaths] } },
        permissions: { contents: "read" },
        jobs,
    };
}

export function promoteWorkflow(opts: GenerateOptions = {}): Workflow {
    const table = opts.table ?? TABLE;
    const settings = opts.settings ?? DELIVERY;
    const job = upJobFor(table, "${{ inputs.stack }}", settings, [], {
        // The program records the promoted commit in the verified record; GITHUB_SHA is the
        // dispatched ref's head, not what this job checked out.
        [PROMOTED_COMMIT_VAR]: "${{ inputs.commit }}",
    });
    const steps = job["steps"] as Step[];
    steps[0] = checkout({ ref: "${{ inputs.commit }}", "fetch-depth": 0 });
    steps.splice(1, 0, {
        name: "the commit is a full SHA on main",
        env: { COMMIT: "${{ inputs.commit }}" },
        run: [
            'if ! [[ "$COMMIT" =~ ^[0-9a-f]{40}$ ]]; then',
            "  echo \"::error::commit '$COMMIT' is not a full 40-character SHA; give the exact commit to deploy\"",
            "  exit 1",
            "fi",
            'if ! git merge-base --is-ancestor "$COMMIT" origin/main; then',
            '  echo "::error::commit $COMMIT is not on main; only what main went through may be promoted"',
            "  exit 1",
            "fi",
        ].join("\n"),
    });
    // Parity runs before prod's up in a promotion too: the job's stack is chosen at dispatch.
    const approvals = table.order.filter((e) => parityChain(table, e) !== undefined);
    const upIndex = steps.findIndex((s) => s["id"] === "up");
    for (const env of approvals) {
        steps.splice(upIndex, 0, { ...parityStep(parityChain(table, env)!), if: `inputs.stack == '${env}'` });
    }
    delete job["needs"];
    return {
        name: "promote",
        on: {
            workflow_dispatch: {
                inputs: {
                    stack: { description: "The stack to update", type: "choice", options: [...table.order], required: true },
                    commit: { description: "The commit to deploy: a full SHA on main", type: "string", required: true },
                },
            },
        },
        permissions: { contents: "read" },
        jobs: { promote: { ...job, name: "up ${{ inputs.stack }} at ${{ inputs.commit }}" } },
    };
}

/** Dependabot keeps the pinned actions (by commit, with their version comment) and both npm projects current. */
export function dependabotConfig(): Record<string, unknown> {
    const weekly = { interval: "weekly" };
    return {
        version: 2,
        updates: [
            { "package-ecosystem": "github-actions", directory: "/", schedule: weekly, groups: { actions: { patterns: ["*"] } } },
            { "package-ecosystem": "npm", directory: "/", schedule: weekly, "open-pull-requests-limit": 5 },
            { "package-ecosystem": "npm", directory: "/delivery/deployments", schedule: weekly, "open-pull-requests-limit": 5 },
        ],
    };
}

export const WORKFLOWS: Readonly<Record<string, (opts?: GenerateOptions) => Workflow>> = {
    "pull-request.yml": pullRequestWorkflow,
    "main.yml": mainWorkflow,
    "promote.yml": promoteWorkflow,
};

/** The workflow's text, as committed. */
export function render(file: string, workflow: Workflow): string {
    let text = stringify(workflow, { lineWidth: 0, aliasDuplicateObjects: false });
    for (const a of Object.values(ACTIONS)) text = text.split(`uses: ${a.uses}\n`).join(`uses: ${a.uses} # ${a.version}\n`);
    return `${HEADER}# ${file}\n${text}`;
}

const HEADER = "# Generated by delivery/workflows.ts from config/environments.ts and delivery/settings.ts; edit those, then: npm run workflows\n";

/** Every generated file under .github/, by path relative to the repository, with its text. */
export function generatedFiles(opts: GenerateOptions = {}): Record<string, string> {
    const files: Record<string, string> = {};
    for (const [file, build] of Object.entries(WORKFLOWS)) files[path.relative(REPO, path.join(WORKFLOW_DIR, file))] = render(file, build(opts));
    files[path.relative(REPO, DEPENDABOT_FILE)] = `${HEADER}${stringify(dependabotConfig(), { lineWidth: 0, aliasDuplicateObjects: false })}`;
    return files;
}

function main(argv: string[]): number {
    const check = argv.includes("--check");
    let stale = 0;
    fs.mkdirSync(WORKFLOW_DIR, { recursive: true });
    for (const [file, text] of Object.entries(generatedFiles())) {
        const target = path.join(REPO, file);
        const current = fs.existsSync(target) ? fs.readFileSync(target, "utf8") : undefined;
        if (current === text) continue;
        if (check) {
            process.stderr.write(`${path.relative(REPO, target)} is not what config/environments.ts generates. Fix: npm run workflows\n`);
            stale += 1;
        } else {
            fs.writeFileSync(target, text);
            process.stdout.write(`wrote ${path.relative(REPO, target)}\n`);
        }
    }
    return stale === 0 ? 0 : 1;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
