// The deployments stack's configuration, read and checked once; every problem is reported in one
// error with the command that fixes it. What is not configuration comes from the repository: the
// application's project name (Pulumi.yaml), the environments (config/environments.ts), the policy
// pack's name, version and per-environment config (policy/).
import * as fs from "node:fs";
import * as path from "node:path";
import { PACK_NAME } from "../../policy/name";
import { readLedger } from "../pack";
import { DELIVERY, type DeliveryPath } from "../settings";
import type { DeliveryOptions, ReviewOptions } from "./plan";

export const REPO = path.resolve(__dirname, "../..");
export const PROJECT = "env-progression-deployments";

/** Paths of the application program, relative to its Pulumi.yaml: a change to any of them concerns every stack. */
export const PROGRAM_PATHS: readonly string[] = [
    "Pulumi.yaml",
    "index.ts",
    "build/**",
    "components/**",
    "resources/**",
    "config/**",
    "smoke/**",
    "netpol/**",
    "promotion/**",
    "release/**",
    "kube/**",
    "proc/**",
    "migrate/**",
    "migrations/**",
    "parity-rules.json",
    "package.json",
    "package-lock.json",
    "tsconfig.json",
    ".node-version",
    "toolchain/node.sh",
];

export class DeploymentsConfigError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "DeploymentsConfigError";
    }
}

/** Raw values by key (without the project namespace), as `pulumi config` holds them. */
export type RawConfig = Readonly<Record<string, string | undefined>>;

export const KNOWN_KEYS = [
    "organization",
    "repository",
    "branch",
    "unattendedPromotion",
    "reviewStacks",
    "reviewSmokeUrl",
    "reviewTemplateExpiry",
    "notifyUrl",
    "notifyFormat",
] as const;

export interface DeploymentsConfig {
    readonly delivery: DeliveryOptions;
    /** The longest a GitHub Actions job's Pulumi token may live, in seconds. */
    readonly tokenSeconds: number;
    /** Where drift reports go besides the Pulumi Cloud console, if anywhere. */
    readonly notify: { readonly url: string; readonly format: "slack" | "ms_teams" | "raw" } | undefined;
    /** Whether the review template's expiry was defaulted (then it is set once, at creation). */
    readonly expiryDefaulted: boolean;
}

/** The application's project name: the `name` of the repository's Pulumi.yaml. */
export function applicationProject(repo: string = REPO): string {
    const text = fs.readFileSync(path.join(repo, "Pulumi.yaml"), "utf8");
    const m = /^name:\s*([A-Za-z0-9_.-]+)\s*$/m.exec(text);
    if (!m)
        throw new DeploymentsConfigError(
            `${path.join(repo, "Pulumi.yaml")} has no top-level 'name:'; the deployments program names the application's stacks after it.`,
        );
    return m[1]!;
}

/** The pack's version tag as published: policy/package.json's version. */
export function policyPackVersion(repo: string = REPO): string {
    const pkg = JSON.parse(fs.readFileSync(path.join(repo, "policy", "package.json"), "utf8")) as { version?: string };
    if (!pkg.version) throw new DeploymentsConfigError("policy/package.json has no version; the policy groups enable the pack at that version.");
    return pkg.version;
}

/** The pack's config for one environment: policy/config/<environment>.json, kept in step with the table by the policy tests. */
export function policyPackConfig(environment: string, repo: string = REPO): Record<string, unknown> {
    const file = path.join(repo, "policy", "config", `${environment}.json`);
    if (!fs.existsSync(file))
        throw new DeploymentsConfigError(
            `${file} is missing, so the ${environment} stack's policy group has no config. Fix: toolchain/run tsx policy/writeConfig.ts`,
        );
    return JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
}

/** The Pulumi CLI of the toolchain and the workflows: toolchain/versions.env's PULUMI_VERSION. */
export function cliVersion(repo: string = REPO): string {
    const file = path.join(repo, "toolchain", "versions.env");
    const m = /^PULUMI_VERSION=(\S+)$/m.exec(fs.readFileSync(file, "utf8"));
    if (!m) throw new DeploymentsConfigError(`${file} has no PULUMI_VERSION line; the executor image is pinned to it.`);
    return m[1]!;
}

/** The pack version the policy groups enable must be a recorded one (policy/published.json), the version the pipeline publishes. */
export function recordedPackVersion(repo: string = REPO): string {
    const version = policyPackVersion(repo);
    const ledger = readLedger(path.join(repo, "policy", "published.json"));
    if (ledger.versions[version] === undefined)
        throw new DeploymentsConfigError(
            `policy/package.json's version ${version} is not recorded in policy/published.json, so no pipeline publishes it and a policy group enabling it would enforce nothing. Fix: toolchain/run tsx delivery/pack.ts version, and commit both files`,
        );
    return version;
}

const DAY = 24 * 3600 * 1000;

/**
 * Validates the stack's config. `now` dates a defaulted review template expiry; `defaultOrganization`
 * is the organization of the stack running this program. Kept as one function: every check adds to
 * one list of problems, so a stack with several mistakes hears of all of them in one error.
 */
export function readDeploymentsConfig(raw: RawConfig, defaultOrganization: string, now: Date, repo: string = REPO, armed: DeliveryPath = DELIVERY.armed): DeploymentsConfig {
    const problems: string[] = [];
    const set = (key: string, value: string) => `pulumi config set ${key} ${value}`;
    const bool = (key: string, fallback: boolean): boolean => {
        const v = raw[key];
        if (v === undefined || v === "") return fallback;
        if (v === "true" || v === "false") return v === "true";
        problems.push(`${PROJECT}:${key}: ${JSON.stringify(v)} is not a boolean. Allowed: true or false. Fix: ${set(key, String(fallback))}`);
        return fallback;
    };

    const repository = raw["repository"];
    if (repository === undefined || repository === "") {
        problems.push(`${PROJECT}:repository is not set: the GitHub repository the stacks deploy from. Fix: ${set("repository", "<owner>/<name>")}`);
    } else if (!/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/.test(repository)) {
        problems.push(
            `${PROJECT}:repository: ${JSON.stringify(repository)} is not a GitHub repository. Allowed: <owner>/<name>, without https:// or .git. Fix: ${set("repository", "<owner>/<name>")}`,
        );
    }
    const branch = raw["branch"] || "main";
    if (branch.startsWith("refs/") || !/^[A-Za-z0-9._/-]+$/.test(branch)) {
        problems.push(
            `${PROJECT}:branch: ${JSON.stringify(branch)} is not a branch name. Allowed: a name such as main (without refs/heads/). Fix: ${set("branch", "main")}`,
        );
    }
    const organization = raw["organization"] || defaultOrganization;

    const reviewStacks = bool("reviewStacks", true);
    const unattendedPromotion = bool("unattendedPromotion", false);
    const smokeUrl = raw["reviewSmokeUrl"] || undefined;
    if (smokeUrl !== undefined && !(/^https?:\/\//.test(smokeUrl) && smokeUrl.includes("{namespace}"))) {
        problems.push(
            `${PROJECT}:reviewSmokeUrl: ${JSON.stringify(smokeUrl)} is not a URL template. Allowed: an http(s) URL containing {namespace}, which each review stack replaces with its own. Fix: ${set("reviewSmokeUrl", "'https://{namespace}.review.example.com'")}`,
        );
    }
    let expiry = raw["reviewTemplateExpiry"] || undefined;
    const expiryDefaulted = expiry === undefined;
    if (expiry === undefined) {
        expiry = new Date(now.getTime() + 30 * DAY).toISOString().replace(/\.\d{3}Z$/, "Z");
    } else if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(expiry) || Number.isNaN(Date.parse(expiry))) {
        problems.push(
            `${PROJECT}:reviewTemplateExpiry: ${JSON.stringify(expiry)} is not a UTC timestamp. Allowed: YYYY-MM-DDThh:mm:ssZ. Fix: ${set("reviewTemplateExpiry", "2027-01-31T00:00:00Z")}`,
        );
    }

    const notifyUrl = raw["notifyUrl"] || undefined;
    const format = raw["notifyFormat"] || "slack";
    if (!["slack", "ms_teams", "raw"].includes(format)) {
        problems.push(
            `${PROJECT}:notifyFormat: ${JSON.stringify(format)} is not a webhook format. Allowed: slack, ms_teams, raw. Fix: ${set("notifyFormat", "slack")}`,
        );
    }
    if (notifyUrl === undefined && armed === "deployments") {
        problems.push(
            `${PROJECT}:notifyUrl is not set, and Pulumi Deployments is the armed path: a failed update or deployment would tell no one. Fix: pulumi config set --secret notifyUrl https://hooks.slack.com/services/...`,
        );
    }
    if (notifyUrl !== undefined && !/^https:\/\//.test(notifyUrl)) {
        problems.push(`${PROJECT}:notifyUrl: is not an https URL. Fix: pulumi config set --secret notifyUrl https://hooks.slack.com/services/...`);
    }

    const unknown = Object.keys(raw).filter((k) => !(KNOWN_KEYS as readonly string[]).includes(k));
    for (const k of unknown) problems.push(`${PROJECT}:${k}: is not a setting of this program. Allowed: ${KNOWN_KEYS.join(", ")}. Fix: pulumi config rm ${k}`);

    let project = "";
    let version = "";
    let cli = "";
    for (const read of [() => (project = applicationProject(repo)), () => (version = recordedPackVersion(repo)), () => (cli = cliVersion(repo))]) {
        try {
            read();
        } catch (err) {
            problems.push((err as Error).message);
        }
    }
    if (problems.length > 0) {
        throw new DeploymentsConfigError(
            `The deployments stack has ${problems.length} configuration problem${problems.length === 1 ? "" : "s"}:\n  - ${problems.join("\n  - ")}`,
        );
    }

    const review: ReviewOptions | undefined = reviewStacks ? { templateStack: "pr", smokeUrlTemplate: smokeUrl, templateExpiry: expiry } : undefined;
    return {
        delivery: {
            organization,
            project,
            repository: repository!,
            branch,
            repoDir: ".",
            programPaths: PROGRAM_PATHS,
            policyPack: { name: PACK_NAME, version, config: (env) => policyPackConfig(env, repo) },
            unattendedPromotion,
            review,
            armed: armed === "deployments",
            cliVersion: cli,
        },
        tokenSeconds: Math.max(...Object.values(DELIVERY.timeoutMinutes)) * 60,
        notify: notifyUrl !== undefined ? { url: notifyUrl, format: format as "slack" | "ms_teams" | "raw" } : undefined,
        expiryDefaulted,
    };
}
