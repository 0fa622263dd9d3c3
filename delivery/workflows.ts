// The GitHub Actions workflows, generated from the environment table so the pipeline never
// disagrees with the program: one preview per stack on a pull request, one `up` job per stack on
// main in the table's promotion order, and a manual promotion of one stack at a chosen commit.
//
//   toolchain/run tsx delivery/workflows.ts           rewrite .github/workflows/*.yml
//   toolchain/run tsx delivery/workflows.ts --check   exit 1 if a committed workflow differs
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { ENVIRONMENTS, ENVIRONMENT_RULES } from "../config/environments";
import { PROMOTED_COMMIT_VAR } from "../promotion/commit";

/** The environment table the workflows are generated from (a test may pass one of its own). */
export interface Table {
    readonly order: readonly string[];
    readonly rules: Readonly<Record<string, { readonly promotesFrom: string | undefined }>>;
}
const TABLE: Table = { order: ENVIRONMENTS, rules: ENVIRONMENT_RULES };

const REPO = path.resolve(__dirname, "..");
export const WORKFLOW_DIR = path.join(REPO, ".github", "workflows");

/** Actions pinned by commit: a moved tag cannot change what runs with the Pulumi token. */
export const ACTIONS = {
    checkout: { uses: "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1", version: "v7.0.1" },
    setupNode: { uses: "actions/setup-node@820762786026740c76f36085b0efc47a31fe5020", version: "v7.0.0" },
    pulumi: { uses: "pulumi/actions@8e5e406f4007fca908480587cb9893c07090f58d", version: "v7.0.0" },
} as const;

/** The GitHub Actions variable naming the Pulumi Cloud organization of the stacks. */
export const ORG_VARIABLE = "PULUMI_ORGANIZATION";
/** The one repository secret the workflows read. Cluster credentials and app secrets come from each stack's ESC environment. */
export const TOKEN_SECRET = "PULUMI_ACCESS_TOKEN";
export const POLICY_PACK = "policy";
export const policyConfigFile = (stack: string) => `policy/config/${stack}.json`;
/** One concurrency group per stack, shared by every workflow that updates it. */
export const stackGroup = (stack: string) => `pulumi-${stack}`;
export const upJob = (env: string) => `up-${env}`;
const RUNNER = "ubuntu-24.04";

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

const checkout = (extra: Record<string, unknown> = {}): Step => ({ uses: ACTIONS.checkout.uses, ...(Object.keys(extra).length ? { with: extra } : {}) });
const setupNode = (lockFiles: readonly string[]): Step => ({
    name: "Node (.node-version) with the npm cache",
    uses: ACTIONS.setupNode.uses,
    with: { "node-version-file": ".node-version", cache: "npm", "cache-dependency-path": lockFiles.join("\n") },
});
const install: Step = { run: "npm ci" };

/** The pulumi/actions step: `command` on `stack` with the policy pack at the stack's config. */
function pulumiStep(command: "up" | "preview", stack: string, extra: Record<string, unknown> = {}): Step {
    return {
        name: `pulumi ${command} ${stack}`,
        uses: ACTIONS.pulumi.uses,
        with: {
            command,
            "stack-name": `\${{ vars.${ORG_VARIABLE} }}/${stack}`,
            "work-dir": ".",
            "pulumi-version": pulumiVersion(),
            policyPacks: POLICY_PACK,
            policyPackConfigs: policyConfigFile(stack),
            ...extra,
        },
    };
}

const tokenEnv = { [TOKEN_SECRET]: `\${{ secrets.${TOKEN_SECRET} }}` };

/** Type-check, lint and the unit, smoke and policy tests: what every change passes first. */
function testJob(): Job {
    return {
        name: "type-check, lint, tests",
        "runs-on": RUNNER,
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

export function pullRequestWorkflow(table: Table = TABLE): Workflow {
    return {
        name: "pull request",
        on: { pull_request: { branches: ["main"] } },
        permissions: { contents: "read" },
        // A new push to the pull request supersedes the previews still running for the old one.
        concurrency: { group: "pull-request-${{ github.event.pull_request.number }}", "cancel-in-progress": true },
        jobs: {
            test: testJob(),
            preview: {
                name: "preview ${{ matrix.stack }}",
                needs: "test",
                // A pull request from a fork gets no secrets, so it cannot preview; its tests still run.
                if: "github.event.pull_request.head.repo.full_name == github.repository",
                "runs-on": RUNNER,
                // comment-on-pr writes the preview into the pull request.
                permissions: { contents: "read", "pull-requests": "write" },
                strategy: { "fail-fast": false, matrix: { stack: [...table.order] } },
                env: tokenEnv,
                steps: [checkout(), setupNode(["package-lock.json"]), install, pulumiStep("preview", "${{ matrix.stack }}", { "comment-on-pr": true })],
            },
        },
    };
}

export function mainWorkflow(table: Table = TABLE): Workflow {
    const jobs: Record<string, Job> = { test: testJob() };
    for (const env of table.order) {
        const from = table.rules[env]?.promotesFrom;
        jobs[upJob(env)] = {
            name: `up ${env}`,
            needs: from === undefined ? "test" : upJob(from),
            "runs-on": RUNNER,
            // The stack's GitHub environment: where its protection rules live (prod: required reviewers).
            environment: env,
            concurrency: { group: stackGroup(env), "cancel-in-progress": false },
            env: tokenEnv,
            steps: [checkout(), setupNode(["package-lock.json"]), install, pulumiStep("up", env)],
        };
    }
    return { name: "deliver", on: { push: { branches: ["main"] } }, permissions: { contents: "read" }, jobs };
}

export function promoteWorkflow(table: Table = TABLE): Workflow {
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
        jobs: {
            promote: {
                name: "up ${{ inputs.stack }} at ${{ inputs.commit }}",
                "runs-on": RUNNER,
                environment: "${{ inputs.stack }}",
                concurrency: { group: stackGroup("${{ inputs.stack }}"), "cancel-in-progress": false },
                env: tokenEnv,
                steps: [
                    checkout({ ref: "${{ inputs.commit }}", "fetch-depth": 0 }),
                    {
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
                    },
                    setupNode(["package-lock.json"]),
                    install,
                    // The program records the promoted commit in the verified record; GITHUB_SHA
                    // is the dispatched ref's head, not what this job checked out.
                    { ...pulumiStep("up", "${{ inputs.stack }}"), env: { [PROMOTED_COMMIT_VAR]: "${{ inputs.commit }}" } },
                ],
            },
        },
    };
}

export const WORKFLOWS: Readonly<Record<string, () => Workflow>> = {
    "pull-request.yml": pullRequestWorkflow,
    "main.yml": mainWorkflow,
    "promote.yml": promoteWorkflow,
};

/** The workflow's text, as committed. */
export function render(file: string, workflow: Workflow): string {
    let text = stringify(workflow, { lineWidth: 0, aliasDuplicateObjects: false });
    for (const a of Object.values(ACTIONS)) text = text.split(`uses: ${a.uses}\n`).join(`uses: ${a.uses} # ${a.version}\n`);
    return `# Generated by delivery/workflows.ts from config/environments.ts; edit those, then: npm run workflows\n# ${file}\n${text}`;
}

function main(argv: string[]): number {
    const check = argv.includes("--check");
    let stale = 0;
    fs.mkdirSync(WORKFLOW_DIR, { recursive: true });
    for (const [file, build] of Object.entries(WORKFLOWS)) {
        const target = path.join(WORKFLOW_DIR, file);
        const text = render(file, build());
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
