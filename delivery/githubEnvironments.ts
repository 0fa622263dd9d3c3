// The GitHub environments the workflows run in, from the environment table: one per environment,
// plus the policy pack's. Every one accepts deployments from main only, so a branch (and a pull
// request's edit of a workflow) can never run a job in it, and so never receives its OIDC subject;
// an environment that requires approval (prod) also waits for its reviewers, who may not approve
// their own run, and admins cannot bypass that.
//
//   npm run github-environments -- --repo OWNER/NAME --reviewers team:SLUG[,user:LOGIN...] [--dry-run]
//
// Applied with `gh api` (the GitHub CLI, logged in as a repository admin). --dry-run prints the
// requests and sends nothing.
import { execFileSync } from "node:child_process";
import { parseArgs } from "node:util";
import { ENVIRONMENTS, ENVIRONMENT_RULES } from "../config/environments";
import { PACK_ENVIRONMENT } from "./workflows";

/** The part of the environment table this reads. */
export interface EnvironmentTable {
    readonly order: readonly string[];
    readonly rules: Readonly<Record<string, { readonly requiresApproval: boolean }>>;
}

/** A reviewer as GitHub's API takes it: a team or a user, by numeric id. */
export interface Reviewer {
    readonly type: "Team" | "User";
    readonly id: number;
}

export interface ApiRequest {
    readonly method: "GET" | "PUT" | "POST";
    readonly path: string;
    readonly body?: Readonly<Record<string, unknown>>;
}

export class GithubEnvironmentsError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "GithubEnvironmentsError";
    }
}

/** The branch every environment deploys from. */
export const DEPLOY_BRANCH = "main";

/** The environments, in table order, then the pack's; whether each waits for reviewers. */
export function githubEnvironments(table: EnvironmentTable): { readonly name: string; readonly approval: boolean }[] {
    return [...table.order.map((e) => ({ name: e, approval: table.rules[e]?.requiresApproval === true })), { name: PACK_ENVIRONMENT, approval: false }];
}

/**
 * The requests that make each environment what the table says: created or updated (PUT), then
 * its branch policy allowing main only (POST, for an environment that does not have it yet).
 */
export function environmentRequests(
    table: EnvironmentTable,
    repository: string,
    reviewers: readonly Reviewer[],
    existingPolicies: Readonly<Record<string, readonly string[]>> = {},
): ApiRequest[] {
    const gated = githubEnvironments(table).filter((e) => e.approval);
    if (gated.length > 0 && reviewers.length === 0) {
        throw new GithubEnvironmentsError(
            `${gated.map((e) => e.name).join(", ")} require${gated.length === 1 ? "s" : ""} approval, and no reviewer was given. Fix: --reviewers team:<slug> (or user:<login>; up to 6)`,
        );
    }
    if (reviewers.length > 6)
        throw new GithubEnvironmentsError(`${reviewers.length} reviewers were given; GitHub allows at most 6. Fix: name a team instead of its members`);
    const requests: ApiRequest[] = [];
    for (const env of githubEnvironments(table)) {
        const base = `repos/${repository}/environments/${env.name}`;
        requests.push({
            method: "PUT",
            path: base,
            body: {
                // Deployments only from branches matching the custom policies below: main.
                deployment_branch_policy: { protected_branches: false, custom_branch_policies: true },
                can_admins_bypass: false,
                ...(env.approval ? { reviewers: reviewers.map((r) => ({ type: r.type, id: r.id })), prevent_self_review: true } : { reviewers: [] }),
            },
        });
        if (!(existingPolicies[env.name] ?? []).includes(DEPLOY_BRANCH)) {
            requests.push({ method: "POST", path: `${base}/deployment-branch-policies`, body: { name: DEPLOY_BRANCH, type: "branch" } });
        }
    }
    return requests;
}

/** `team:SLUG` or `user:LOGIN`, comma-separated. */
export function parseReviewers(text: string): { readonly kind: "team" | "user"; readonly name: string }[] {
    return text
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
        .map((s) => {
            const m = /^(team|user):([A-Za-z0-9][A-Za-z0-9._-]*)$/.exec(s);
            if (!m)
                throw new GithubEnvironmentsError(
                    `reviewer ${JSON.stringify(s)} is not team:<slug> or user:<login>. Fix: e.g. --reviewers team:platform,user:alice`,
                );
            return { kind: m[1] as "team" | "user", name: m[2]! };
        });
}

/** The `gh api` command line of a request (the body goes on stdin). */
export function ghCommand(r: ApiRequest): string[] {
    return ["api", "-X", r.method, r.path, ...(r.body ? ["--input", "-"] : [])];
}

function gh(args: readonly string[], input?: string): string {
    return execFileSync("gh", [...args], { encoding: "utf8", input, stdio: ["pipe", "pipe", "inherit"] });
}

function main(argv: string[]): number {
    const { values } = parseArgs({
        args: argv,
        options: { repo: { type: "string" }, reviewers: { type: "string" }, "dry-run": { type: "boolean" } },
        strict: true,
    });
    const repository = values.repo ?? "";
    if (!/^[A-Za-z0-9][A-Za-z0-9-]*\/[A-Za-z0-9._-]+$/.test(repository))
        throw new GithubEnvironmentsError(`--repo ${JSON.stringify(repository)} is not OWNER/NAME. Fix: --repo acme/env-progression`);
    const dryRun = values["dry-run"] === true;
    const owner = repository.split("/")[0]!;
    const named = parseReviewers(values.reviewers ?? "");
    // GitHub takes reviewers by id: looked up here (in a dry run, shown as lookups with placeholder ids).
    const reviewers: Reviewer[] = named.map((r, i) => {
        const lookup: ApiRequest = { method: "GET", path: r.kind === "team" ? `orgs/${owner}/teams/${r.name}` : `users/${r.name}` };
        if (dryRun) {
            process.stdout.write(`gh ${ghCommand(lookup).join(" ")}   # the id of ${r.kind} ${r.name}\n`);
            return { type: r.kind === "team" ? "Team" : "User", id: -(i + 1) };
        }
        const id = (JSON.parse(gh(ghCommand(lookup))) as { id?: number }).id;
        if (typeof id !== "number")
            throw new GithubEnvironmentsError(`${r.kind} ${r.name} was not found in ${owner}. Fix: check the ${r.kind === "team" ? "team's slug" : "login"}`);
        return { type: r.kind === "team" ? "Team" : "User", id };
    });
    const table = { order: ENVIRONMENTS, rules: ENVIRONMENT_RULES };
    const existing: Record<string, string[]> = {};
    if (!dryRun) {
        for (const env of githubEnvironments(table)) {
            try {
                const doc = JSON.parse(gh(["api", `repos/${repository}/environments/${env.name}/deployment-branch-policies`])) as {
                    branch_policies?: { name: string }[];
                };
                existing[env.name] = (doc.branch_policies ?? []).map((p) => p.name);
            } catch {
                existing[env.name] = []; // the environment does not exist yet
            }
        }
    }
    for (const r of environmentRequests(table, repository, reviewers, existing)) {
        const body = r.body ? JSON.stringify(r.body) : undefined;
        if (dryRun) {
            process.stdout.write(`gh ${ghCommand(r).join(" ")}${body ? ` <<'EOF'\n${body}\nEOF` : ""}\n`);
            continue;
        }
        gh(ghCommand(r), body);
        process.stdout.write(`${r.method} ${r.path}: done\n`);
    }
    if (dryRun && reviewers.some((r) => r.id < 0)) process.stdout.write("# negative ids stand for the looked-up ids; nothing was sent\n");
    return 0;
}

if (require.main === module) {
    try {
        process.exitCode = main(process.argv.slice(2));
    } catch (err) {
        process.stderr.write(`github-environments: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = 2;
    }
}
