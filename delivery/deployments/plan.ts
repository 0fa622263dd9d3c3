// What Pulumi Deployments should do for each environment stack, as plain data built from the
// environment table: which stack deploys on a push, which stack each one promotes from, where drift
// is detected, which policies gate its previews. delivery.ts turns this into pulumiservice
// resources; tests read it directly.
import type * as service from "@pulumi/pulumiservice";

/** The part of an environment's rules delivery reads (config/environments.ts has them all). */
export interface DeliveryRules {
    readonly promotesFrom: string | undefined;
    readonly driftDetection: { readonly schedule: string; readonly remediate: boolean } | undefined;
    readonly requiresApproval: boolean;
}

/** The environment table: the order environments are listed in, and each one's rules. */
export interface DeliveryTable {
    readonly order: readonly string[];
    readonly rules: Readonly<Record<string, DeliveryRules>>;
}

export interface DeliveryOptions {
    /** Pulumi Cloud organization holding the stacks. */
    readonly organization: string;
    /** The application's Pulumi project (the repository's Pulumi.yaml `name`). */
    readonly project: string;
    /** GitHub repository, `owner/name`. */
    readonly repository: string;
    /** The branch every environment deploys from, e.g. `main`. */
    readonly branch: string;
    /** Directory of the application's Pulumi.yaml within the repository. */
    readonly repoDir: string;
    /** Paths whose change concerns every stack (the program, its dependencies); each stack adds its own stack file. */
    readonly programPaths: readonly string[];
    /** The policy pack every stack's previews and updates are judged by, with each environment's config. */
    readonly policyPack: { readonly name: string; readonly version: string; readonly config: (environment: string) => Record<string, unknown> };
    /**
     * Whether the promotion webhook into an environment that requires approval is active. Pulumi
     * Deployments has no approval step, so by default such an environment is deployed by a person
     * (or the GitHub workflow's reviewed job), and its webhook is declared but inactive.
     */
    readonly unattendedPromotion: boolean;
    /** Review stacks: the template stack and where each review stack's smoke checks point. */
    readonly review: ReviewOptions | undefined;
    /**
     * Whether Pulumi Deployments is the armed delivery path (delivery/settings.ts). When it is not,
     * no push, pull request or webhook starts a deployment: the settings stay for drift detection
     * and click-to-deploy, and GitHub Actions deploys.
     */
    readonly armed: boolean;
    /** The Pulumi CLI the executor runs (toolchain/versions.env): its image is pinned to it. */
    readonly cliVersion: string;
}

export interface ReviewOptions {
    /** The template stack, by convention `pr`, with its Pulumi.pr.yaml in the repository. */
    readonly templateStack: string;
    /** Where each review stack's smoke checks point: a URL containing {namespace}; unset keeps Pulumi.pr.yaml's. */
    readonly smokeUrlTemplate: string | undefined;
    /** When the template stack itself, if someone deploys it by hand, is torn down (ISO 8601). */
    readonly templateExpiry: string;
}

export class DeliveryError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "DeliveryError";
    }
}

/** One promotion: a successful `up` of `from` starts a deployment of `to`. */
export interface Promotion {
    readonly from: string;
    readonly to: string;
}

/**
 * The promotions the table declares, checked: exactly the first environment promotes from nothing,
 * and every other one promotes from an environment listed before it. Listing order is therefore a
 * topological order, and the graph cannot have a cycle.
 */
export function promotions(table: DeliveryTable): Promotion[] {
    const problems: string[] = [];
    const seen = new Set<string>();
    const edges: Promotion[] = [];
    if (table.order.length === 0)
        throw new DeliveryError("The environment table lists no environment. Fix: add one to ENVIRONMENTS in config/environments.ts.");
    for (const [i, env] of table.order.entries()) {
        const rules = table.rules[env];
        if (rules === undefined) {
            problems.push(`${env}: listed in ENVIRONMENTS but has no rules. Fix: add ${env} to ENVIRONMENT_RULES.`);
            continue;
        }
        const from = rules.promotesFrom;
        if (i === 0) {
            if (from !== undefined)
                problems.push(
                    `${env}: the first environment must promote from nothing, not ${JSON.stringify(from)}. Fix: promotesFrom: undefined, or list ${from} first.`,
                );
        } else if (from === undefined) {
            problems.push(
                `${env}: only the first environment (${table.order[0]}) may promote from nothing; every later one needs promotesFrom. Fix: promotesFrom: ${JSON.stringify(table.order[i - 1])}.`,
            );
        } else if (!seen.has(from)) {
            const where = table.order.includes(from) ? `is listed after ${env}` : "is no environment";
            problems.push(
                `${env}: promotesFrom ${JSON.stringify(from)} ${where}. Allowed: an environment listed before it (${[...seen].join(", ")}). Fix: list ${from} before ${env}, or promote from one that is.`,
            );
        } else {
            edges.push({ from, to: env });
        }
        seen.add(env);
    }
    if (problems.length > 0) throw new DeliveryError(`The environment table's promotions are not a chain in listing order:\n  - ${problems.join("\n  - ")}`);
    return edges;
}

/** The stack an environment deploys: stacks are named after their environments. */
export const stackOf = (environment: string): string => environment;

/**
 * Pre-run commands giving a deployment the project's Node: toolchain/node.sh installs the Node of
 * .node-version from the npm registry when the executor's is older than the program needs, and
 * the PATH line in PULUMI_ENV carries it into the next commands and the Pulumi operation (each
 * pre-run command runs in a shell of its own). Dependencies are then installed with that Node.
 */
export const NODE_SETUP: readonly string[] = [
    'nodebin=$(toolchain/node.sh) && echo "PATH=$nodebin:$PATH" >> "${PULUMI_ENV:-/PULUMI_ENV}"',
    "node --version && npm ci --no-audit --no-fund",
];

/** The paths that concern one stack's deployments: the program and that stack's own file. */
export function stackPaths(options: DeliveryOptions, stackFile: string): string[] {
    const inRepoDir = (p: string) => (options.repoDir === "." ? p : `${options.repoDir}/${p}`);
    return [...options.programPaths, stackFile].map(inRepoDir);
}

function operationContext(preRun: readonly string[], extra: { deleteAfterDestroy?: boolean } = {}): service.types.input.DeploymentSettingsOperationContextArgs {
    return {
        preRunCommands: [...preRun],
        environmentVariables: {
            // The executor is a CI system: no prompts, no update nagging, plain logs.
            CI: "true",
            PULUMI_SKIP_UPDATE_CHECK: "true",
            NPM_CONFIG_UPDATE_NOTIFIER: "false",
        },
        options: {
            // Dependencies are installed by the pre-run commands, with the project's Node.
            skipInstallDependencies: true,
            // Several commits landing together deploy once, at the newest.
            skipIntermediateDeployments: true,
            shell: "/bin/bash",
            ...extra,
        },
    };
}

function source(options: DeliveryOptions): service.types.input.DeploymentSettingsSourceContextArgs {
    return { git: { branch: `refs/heads/${options.branch}`, repoDir: options.repoDir } };
}

/** The executor image of a CLI release: the Pulumi image with Node, at exactly that version (never `latest`). */
export function executorImage(cliVersion: string): string {
    if (!/^\d+\.\d+\.\d+$/.test(cliVersion))
        throw new DeliveryError(`the Pulumi CLI version ${JSON.stringify(cliVersion)} is not MAJOR.MINOR.PATCH, so no executor image can be pinned to it. Fix: PULUMI_VERSION in toolchain/versions.env`);
    return `pulumi/pulumi-nodejs:${cliVersion}`;
}

/**
 * One environment stack's settings. With Deployments armed, only the first environment deploys on a
 * push; every later one is deployed by its promotion webhook; every stack but those that require
 * approval previews pull requests touching its paths. Unarmed, none reacts to anything.
 * deployCommits and previewPullRequests are always spelled out: the provider defaults both to true.
 */
export function environmentSettings(table: DeliveryTable, environment: string, options: DeliveryOptions): service.DeploymentSettingsArgs {
    const first = table.order[0] === environment;
    return {
        organization: options.organization,
        project: options.project,
        stack: stackOf(environment),
        sourceContext: source(options),
        operationContext: operationContext(NODE_SETUP),
        executorContext: { executorImage: executorImage(options.cliVersion) },
        vcs: {
            provider: "github",
            repository: options.repository,
            deployCommits: first && options.armed,
            // A Deployments preview runs the pull request's code with a token that may update the
            // stack: never on a stack that requires approval (prod).
            previewPullRequests: options.armed && table.rules[environment]?.requiresApproval !== true,
            pullRequestTemplate: false,
            paths: stackPaths(options, `Pulumi.${stackOf(environment)}.yaml`),
        },
    };
}

/** The promotion webhook: `to` deploys when an update of `from` succeeds, and on nothing else. */
export function promotionWebhook(table: DeliveryTable, edge: Promotion, options: DeliveryOptions): service.WebhookArgs {
    const gated = table.rules[edge.to]?.requiresApproval === true;
    // Armed or not, the webhook exists; only the armed path's fires (an update by GitHub Actions succeeds too).
    const active = options.armed && (!gated || options.unattendedPromotion);
    return {
        organizationName: options.organization,
        projectName: options.project,
        stackName: stackOf(edge.from),
        format: "pulumi_deployments",
        payloadUrl: `${options.project}/${stackOf(edge.to)}`,
        filters: ["update_succeeded"],
        active,
        displayName: active
            ? `promote ${edge.from} to ${edge.to}`
            : `promote ${edge.from} to ${edge.to} (inactive: ${options.armed ? `${edge.to} requires approval` : "GitHub Actions is the armed path"})`,
    };
}

/** A failed update or deployment of an environment's stack, reported to the notification webhook. */
export function failureWebhook(environment: string, options: DeliveryOptions, notify: { readonly url: string; readonly format: string }): service.WebhookArgs {
    return {
        organizationName: options.organization,
        projectName: options.project,
        stackName: stackOf(environment),
        format: notify.format as service.WebhookArgs["format"],
        payloadUrl: notify.url,
        filters: ["update_failed", "deployment_failed"],
        active: true,
        displayName: `failures in ${environment}`,
    };
}

/** Scheduled drift detection for an environment that asks for it; never an automatic fix where an `up` would promote or skip an approval. */
export function driftSchedule(table: DeliveryTable, environment: string, options: DeliveryOptions): service.DriftScheduleArgs | undefined {
    const rules = table.rules[environment];
    const drift = rules?.driftDetection;
    if (rules === undefined || drift === undefined) return undefined;
    if (drift.remediate) {
        const next = table.order.filter((e) => table.rules[e]?.promotesFrom === environment);
        if (rules.requiresApproval) {
            throw new DeliveryError(
                `${environment}: driftDetection.remediate is true, but ${environment} requires approval; a remediation is an unattended \`up\`. Fix: remediate: false (drift is then reported, and fixed by an approved update).`,
            );
        }
        if (next.length > 0) {
            throw new DeliveryError(
                `${environment}: driftDetection.remediate is true, but a remediation is an \`up\`, and a successful \`up\` of ${environment} starts the deployment of ${next.join(" and ")}. Fix: remediate: false.`,
            );
        }
    }
    return {
        organization: options.organization,
        project: options.project,
        stack: stackOf(environment),
        scheduleCron: drift.schedule,
        autoRemediate: drift.remediate,
    };
}

/** The policy group judging one environment's stack with the pack at that environment's level. */
export function policyGroup(environment: string, options: DeliveryOptions): service.PolicyGroupArgs {
    return {
        organizationName: options.organization,
        name: `${options.project}-${environment}`,
        entityType: "stacks",
        // Mandatory violations block the operation; advisory ones (dev) are reported.
        mode: "preventative",
        stacks: [{ name: stackOf(environment), routingProject: options.project }],
        policyPacks: [{ name: options.policyPack.name, versionTag: options.policyPack.version, config: options.policyPack.config(environment) }],
    };
}

/**
 * The review stack template: never deployed or previewed itself; every pull request gets a stack
 * copied from it (config from Pulumi.<template>.yaml, these settings), destroyed and deleted when
 * the pull request closes. Its pre-run command gives each review stack a namespace of its own.
 */
export function reviewTemplateSettings(table: DeliveryTable, review: ReviewOptions, options: DeliveryOptions): service.DeploymentSettingsArgs {
    const first = table.order[0]!;
    const reviewStack = ['delivery/deployments/review-stack.sh "$PULUMI_CI_STACK"', ...(review.smokeUrlTemplate ? [shellQuote(review.smokeUrlTemplate)] : [])].join(" ");
    return {
        ...environmentSettings(table, first, options),
        stack: review.templateStack,
        // A review stack is deleted once its pull request closes and its resources are destroyed.
        operationContext: operationContext([...NODE_SETUP, reviewStack], { deleteAfterDestroy: true }),
        vcs: {
            provider: "github",
            repository: options.repository,
            deployCommits: false,
            previewPullRequests: false,
            // Review stacks are the Deployments path's pull request previews.
            pullRequestTemplate: options.armed,
            paths: stackPaths(options, `Pulumi.${review.templateStack}.yaml`),
        },
    };
}

/** The template stack's own expiry: it is a template, so only a hand-made deployment of it is torn down; the stack and its settings stay. */
export function reviewTemplateTtl(review: ReviewOptions, options: DeliveryOptions): service.TtlScheduleArgs {
    return {
        organization: options.organization,
        project: options.project,
        stack: review.templateStack,
        timestamp: review.templateExpiry,
        deleteAfterDestroy: false,
    };
}

/** Single-quotes a value for a POSIX shell command line. */
export function shellQuote(value: string): string {
    return `'${value.replace(/'/g, `'\\''`)}'`;
}
