// What a delivery job reports: a job summary (what ran where, and the promotion record the stack
// now exports) and, when the job failed, a notice: a GitHub annotation, the summary's failure
// section, and a JSON message to the configured webhook. Pure builders, and a small command the
// workflows call with the job's facts in the environment:
//
//   tsx delivery/report.ts summary    markdown on stdout (the step appends it to $GITHUB_STEP_SUMMARY)
//   tsx delivery/report.ts notify     the annotation on stdout, the summary section, the webhook POST

import * as os from "node:os";
import { actorOf, commitOf, type Git, gitIn } from "../promotion/commit";

/** The facts a job knows about itself; each comes from the runner's environment. */
export interface JobFacts {
    readonly workflow: string;
    readonly job: string;
    readonly stack: string;
    /** The GitHub environment the job ran in, or undefined (pull request previews run in none). */
    readonly githubEnvironment: string | undefined;
    readonly organization: string;
    readonly runner: string;
    readonly cliVersion: string;
    /** The policy pack version and content digest the job judged with. */
    readonly pack: { readonly version: string; readonly digest: string } | undefined;
    readonly commit: string;
    readonly actor: string;
    readonly runUrl: string | undefined;
    /** GitHub's job.status: success, failure or cancelled. */
    readonly status: string;
}

/** The part of the stack's `verified` output a summary shows. */
export interface RecordFacts {
    readonly environment?: string;
    readonly image?: string;
    readonly ranDigest?: string | null;
    readonly imageDigest?: string | null;
    readonly passedAt?: string;
    readonly commit?: string | null;
    readonly actor?: string | null;
    readonly runUrl?: string | null;
}

/** Parses the stack output as pulumi/actions hands it over (JSON text), or undefined when there is none. */
export function parseRecord(text: string | undefined): RecordFacts | undefined {
    if (text === undefined || text.trim() === "") return undefined;
    try {
        const v = JSON.parse(text) as unknown;
        return v && typeof v === "object" ? v : undefined;
    } catch {
        return undefined;
    }
}

const cell = (v: string | null | undefined) => (v === undefined || v === null || v === "" ? "-" : `\`${v.replace(/`/g, "'")}\``);

export function jobSummary(f: JobFacts, record: RecordFacts | undefined): string {
    const stackRef = f.organization ? `${f.organization}/${f.stack}` : f.stack;
    const lines = [
        `### ${f.job}: ${f.stack} (${f.status})`,
        "",
        "| what | where |",
        "|---|---|",
        `| stack | ${cell(stackRef)} |`,
        `| GitHub environment | ${f.githubEnvironment ? cell(f.githubEnvironment) : "none (read-only credentials)"} |`,
        `| runner | ${cell(f.runner)} |`,
        `| Pulumi CLI | ${cell(f.cliVersion)} |`,
        `| policy pack | ${f.pack ? `${cell(f.pack.version)} ${cell(f.pack.digest)}` : "-"} |`,
        `| commit | ${cell(f.commit)} |`,
        `| actor | ${cell(f.actor)} |`,
        `| run | ${f.runUrl ?? "-"} |`,
        "",
    ];
    if (record === undefined) {
        lines.push(`The stack exports no promotion record${f.status === "success" ? "" : " from this run"}.`);
    } else {
        lines.push(
            "**Promotion record** (the stack's `verified` output: what the next environment may deploy)",
            "",
            "| field | value |",
            "|---|---|",
            `| environment | ${cell(record.environment)} |`,
            `| image | ${cell(record.image)} |`,
            `| digest the pods ran | ${cell(record.ranDigest ?? record.imageDigest)} |`,
            `| checks passed at | ${cell(record.passedAt)} |`,
            `| commit | ${cell(record.commit)} |`,
            `| actor | ${cell(record.actor)} |`,
            `| run | ${record.runUrl ?? "-"} |`,
        );
        if (record.commit && f.commit && record.commit !== f.commit) {
            lines.push(
                "",
                f.status === "success"
                    ? `The record is of commit ${cell(record.commit)}, not this run's ${cell(f.commit)}: this run changed nothing the checks verify, so the last verified record stands.`
                    : `The record is of commit ${cell(record.commit)}, not this run's ${cell(f.commit)}: this run's checks did not pass, so the record is the last verified one.`,
            );
        }
    }
    return lines.join("\n") + "\n";
}

export interface FailureNotice {
    /** A GitHub workflow command: an error annotation on the run. */
    readonly annotation: string;
    /** The job summary's failure section (markdown). */
    readonly summary: string;
    /** The webhook's JSON body (`text` is what Slack and Teams incoming webhooks show). */
    readonly payload: Readonly<Record<string, string>>;
}

/** Escapes a workflow command's message (GitHub's rules: %, CR, LF). */
const escapeData = (s: string) => s.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");

export function failureNotice(f: JobFacts): FailureNotice {
    const stackRef = f.organization ? `${f.organization}/${f.stack}` : f.stack;
    const text = `${f.workflow} / ${f.job}: ${f.stack} ${f.status === "cancelled" ? "was cancelled" : "failed"} at ${f.commit} (actor ${f.actor})${f.runUrl ? `: ${f.runUrl}` : ""}`;
    return {
        annotation: `::error title=${escapeData(`${f.job} ${f.status}`).replace(/[:,]/g, " ")}::${escapeData(text)}`,
        summary: `#### ${f.status === "cancelled" ? "Cancelled" : "Failed"}\n\n${text}. The stack \`${stackRef}\` keeps what it ran before; its promotion record is unchanged.\n`,
        payload: { text, workflow: f.workflow, job: f.job, stack: stackRef, status: f.status, commit: f.commit, actor: f.actor, run: f.runUrl ?? "" },
    };
}

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * The job's facts from the runner's variables (GITHUB_*) and the step's own (STACK, PULUMI_VERSION,
 * ...). The commit and actor are found as the program finds the record's (promotion/commit.ts), so
 * the summary and the record agree on what was deployed.
 */
export function factsFromEnv(env: Env, git: Git = () => undefined, localUser: string | undefined = undefined): JobFacts {
    const server = env["GITHUB_SERVER_URL"];
    const repo = env["GITHUB_REPOSITORY"];
    const run = env["GITHUB_RUN_ID"];
    const packVersion = env["PACK_VERSION"];
    const packDigest = env["PACK_DIGEST"];
    return {
        workflow: env["GITHUB_WORKFLOW"] || "local",
        job: env["GITHUB_JOB"] || "job",
        stack: env["STACK"] || "?",
        githubEnvironment: env["DEPLOY_ENVIRONMENT"] || undefined,
        organization: env["PULUMI_ORGANIZATION"] ?? "",
        runner: [env["RUNNER_NAME"], env["RUNNER_OS"], env["ImageOS"]].filter(Boolean).join(" ") || "this machine",
        cliVersion: env["PULUMI_VERSION"] || "?",
        pack: packVersion && packDigest ? { version: packVersion, digest: packDigest } : undefined,
        commit: commitOf(env, git) ?? "?",
        actor: actorOf(env, localUser) ?? "?",
        runUrl: server && repo && run ? `${server}/${repo}/actions/runs/${run}` : undefined,
        status: env["JOB_STATUS"] || "unknown",
    };
}

async function main(argv: string[], env: Env): Promise<number> {
    const facts = factsFromEnv(env, gitIn(process.cwd()), os.userInfo().username);
    if (argv[0] === "summary") {
        process.stdout.write(jobSummary(facts, parseRecord(env["VERIFIED"])));
        return 0;
    }
    if (argv[0] === "notify") {
        const notice = failureNotice(facts);
        process.stdout.write(notice.annotation + "\n");
        const summaryFile = env["GITHUB_STEP_SUMMARY"];
        if (summaryFile) (await import("node:fs")).appendFileSync(summaryFile, notice.summary);
        const url = env["NOTIFY_URL"];
        if (url) {
            const res = await fetch(url, {
                method: "POST",
                headers: { "content-type": "application/json" },
                body: JSON.stringify(notice.payload),
                signal: AbortSignal.timeout(10_000),
            });
            // The URL itself is a credential: only its status is printed.
            if (!res.ok) process.stdout.write(`::warning::the failure webhook answered ${res.status}; the annotation and the summary stand\n`);
        }
        return 0;
    }
    process.stderr.write("usage: delivery/report.ts summary | notify\n");
    return 2;
}

if (require.main === module) {
    main(process.argv.slice(2), process.env).then(
        (code) => (process.exitCode = code),
        (err: unknown) => {
            process.stderr.write(`report: ${err instanceof Error ? err.message : String(err)}\n`);
            process.exitCode = 1;
        },
    );
}
