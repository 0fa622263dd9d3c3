// Which commit of the program is running, for the verified record. GitHub Actions names it in
// GITHUB_SHA; everywhere else the program runs from a git checkout (Pulumi Deployments clones
// the repository), so `git rev-parse HEAD` of the program's directory says it. Uncommitted
// changes to tracked files mark it `-dirty`: that commit is not exactly what ran.
import { execFileSync } from "node:child_process";

export type Git = (args: readonly string[]) => string | undefined;

const SHA = /^[0-9a-f]{40}$/;

/** The commit, `<sha>-dirty`, or null when none is known. */
export function commitOf(env: Readonly<Record<string, string | undefined>>, git: Git): string | null {
    const fromCi = env["GITHUB_SHA"]?.trim().toLowerCase();
    if (fromCi && SHA.test(fromCi)) return fromCi;
    const head = git(["rev-parse", "HEAD"])?.trim();
    if (!head || !SHA.test(head)) return null;
    const status = git(["status", "--porcelain", "--untracked-files=no"]);
    return status === undefined || status.trim() === "" ? head : `${head}-dirty`;
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
