// Who ran what, for the verified record: the promoted commit, the actor and the CI run.
//
// The commit: the promote workflow (workflow_dispatch) checks out the commit it was given and
// names it in PROGRESSION_PROMOTED_COMMIT; there GITHUB_SHA is the head of the dispatched ref,
// which is not what is deployed, so it is never used for a dispatch. On push GITHUB_SHA is the
// commit. Everywhere else the program runs from a git checkout (Pulumi Deployments clones the
// repository), so `git rev-parse HEAD` of the program's directory says it; uncommitted changes to
// tracked files mark it `-dirty`, as that commit is not exactly what ran.
import { execFileSync } from "node:child_process";
import type { Provenance } from "./record";

export type Git = (args: readonly string[]) => string | undefined;
export type Env = Readonly<Record<string, string | undefined>>;

/** The variable the promote workflow sets to the commit it deploys. */
export const PROMOTED_COMMIT_VAR = "PROGRESSION_PROMOTED_COMMIT";

const SHA = /^[0-9a-f]{40}$/;
const sha = (v: string | undefined) => {
    const s = v?.trim().toLowerCase();
    return s && SHA.test(s) ? s : undefined;
};

/** The commit, `<sha>-dirty`, or null when none is known. */
export function commitOf(env: Env, git: Git): string | null {
    const promoted = sha(env[PROMOTED_COMMIT_VAR]);
    if (promoted) return promoted;
    const pushed = env["GITHUB_EVENT_NAME"] === "workflow_dispatch" ? undefined : sha(env["GITHUB_SHA"]);
    if (pushed) return pushed;
    const head = sha(git(["rev-parse", "HEAD"]));
    if (!head) return null;
    const status = git(["status", "--porcelain", "--untracked-files=no"]);
    return status === undefined || status.trim() === "" ? head : `${head}-dirty`;
}

/** Who ran the update: GITHUB_ACTOR in Actions, else the local user; null when neither is known. */
export function actorOf(env: Env, localUser: string | undefined): string | null {
    const actor = env["GITHUB_ACTOR"]?.trim() || localUser?.trim();
    return actor ? actor : null;
}

/** The Actions run's URL, or null outside Actions (or with any part missing). */
export function runUrlOf(env: Env): string | null {
    const server = env["GITHUB_SERVER_URL"]?.trim();
    const repo = env["GITHUB_REPOSITORY"]?.trim();
    const run = env["GITHUB_RUN_ID"]?.trim();
    if (!server || !repo || !run || !/^\d+$/.test(run)) return null;
    return `${server.replace(/\/+$/, "")}/${repo}/actions/runs/${run}`;
}

export function provenanceOf(env: Env, git: Git, localUser: string | undefined): Provenance {
    return { commit: commitOf(env, git), actor: actorOf(env, localUser), runUrl: runUrlOf(env) };
}

/** git in `dir`, or undefined when git is missing, `dir` is no checkout, or it takes over 5 s. */
export function gitIn(dir: string): Git {
    return (args) => {
        try {
            return execFileSync("git", ["-C", dir, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 5_000 });
        } catch {
            return undefined;
        }
    };
}
