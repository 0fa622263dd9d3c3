// The one process runner of the gates: the smoke command, the migration command, the live
// switch's check command and short tool runs (squawk). Every run has
//   - an environment built from an allowlist, never the whole of this process's environment
//     (which holds PULUMI_ACCESS_TOKEN, the config passphrase, cloud credentials);
//   - a timeout, after which the whole process group gets SIGTERM, then SIGKILL;
//   - its output redacted of the secrets it is given, before anyone sees it;
//   - no survivors: what the command leaves in the background is killed when it exits, and if
//     this process dies first (an `up` killed, the provider stopped), a watcher in the command's
//     own process group kills the group.
import { spawn, spawnSync } from "node:child_process";
import { redactString } from "./redact";

/** Variables a command inherits from this process, when set. Nothing else is inherited. */
export const INHERITED_VARIABLES = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"] as const;

/**
 * Names never handed to a command, even when a caller lists them: the Pulumi Cloud token, the
 * secrets passphrase, and the credentials of the clouds and registries a machine running `up`
 * typically holds.
 */
const NEVER_INHERITED =
    /^(PULUMI_ACCESS_TOKEN|PULUMI_CONFIG_PASSPHRASE(_FILE)?|AWS_.*|AZURE_.*|ARM_.*|GOOGLE_.*|GCP_.*|CLOUDSDK_.*|DIGITALOCEAN_.*|GITHUB_TOKEN|GH_TOKEN|ACTIONS_.*|KUBECONFIG)$/;

/** Whether `name` may be inherited by a command at all. */
export function inheritable(name: string): boolean {
    return !NEVER_INHERITED.test(name);
}

/**
 * The environment of a command: the allowlisted variables this process has (INHERITED_VARIABLES,
 * plus `extra` names the caller lists, minus the never-inherited ones), then the gate's own
 * variables, which win.
 */
export function commandEnv(
    gate: Readonly<Record<string, string>>,
    parent: NodeJS.ProcessEnv = process.env,
    extra: readonly string[] = [],
): Record<string, string> {
    const env: Record<string, string> = {};
    for (const name of [...INHERITED_VARIABLES, ...extra]) {
        const value = parent[name];
        if (value !== undefined && inheritable(name)) env[name] = value;
    }
    return { ...env, ...gate };
}

/** Output kept for a report: the end, where a script says why it failed. */
export const OUTPUT_CAP_BYTES = 64 * 1024;
/** After SIGTERM at the deadline, how long the command may take to exit before SIGKILL. */
const KILL_GRACE_MS = 3_000;
/**
 * After the shell exited, how long to wait for its pipes to close. A process it left in the
 * background may hold them open; the shell's exit status is what counts.
 */
const DRAIN_AFTER_EXIT_MS = 500;

/** The last `cap` bytes of everything pushed, in arrival order. */
export class OutputTail {
    private chunks: Buffer[] = [];
    private size = 0;
    constructor(private readonly cap: number) {}

    push(chunk: Buffer): void {
        this.chunks.push(chunk);
        this.size += chunk.length;
        while (this.size > this.cap) {
            const first = this.chunks[0]!;
            const excess = this.size - this.cap;
            if (first.length <= excess) {
                this.chunks.shift();
                this.size -= first.length;
            } else {
                this.chunks[0] = first.subarray(excess);
                this.size -= excess;
            }
        }
    }

    bytes(): Buffer {
        return Buffer.concat(this.chunks);
    }
}

/**
 * The tail kept for a report: redacted first, then cut to `cap` bytes. The tail read is longer by
 * the longest secret, so a secret cut at the front of the tail is still seen whole and redacted.
 */
export function redactedTail(raw: Buffer, cap: number, secrets: readonly string[]): string {
    const text = redactString(raw.toString("utf8"), secrets);
    const bytes = Buffer.from(text, "utf8");
    // A multi-byte character cut at the front shows as U+FFFD.
    return bytes.length <= cap ? text : bytes.subarray(bytes.length - cap).toString("utf8");
}

export interface RunOptions {
    /** Where it runs. */
    readonly cwd: string;
    /** Its whole environment: build it with commandEnv. */
    readonly env: Readonly<Record<string, string>>;
    /** When the group is sent SIGTERM (then SIGKILL after a grace period). */
    readonly timeoutMs: number;
    /** Values replaced by [redacted] in the output; see secretStrings. @default - none */
    readonly secrets?: readonly string[];
    /** @default OUTPUT_CAP_BYTES */
    readonly outputCapBytes?: number;
}

export interface CommandResult {
    readonly code: number | null;
    readonly signal: NodeJS.Signals | null;
    readonly timedOut: boolean;
    /** stdout and stderr interleaved, redacted, the last outputCapBytes at most. */
    readonly output: string;
    readonly elapsedMs: number;
}

/**
 * The group leader of each run. It runs the command in the background with its stdin on
 * /dev/null, and a watcher that reads the runner's pipe (fd 3): end of file means the runner is
 * gone, and the watcher kills the whole group. When the command ends, the watcher is stopped and
 * the leader ends the way the command did (its status, or the signal that killed it).
 */
export const GROUP_LEADER = [
    'exec 3<&0 </dev/null',
    '/bin/sh -c "$1" 3<&- &',
    "cmd=$!",
    "( while read -r _ <&3; do :; done; kill -KILL 0 ) &",
    "watch=$!",
    "exec 3<&-",
    // The shell's own notice of a job killed by a signal ("Killed") is not the command's output.
    'wait "$cmd" 2>/dev/null; status=$?',
    'kill "$watch" 2>/dev/null',
    'if [ "$status" -gt 128 ] && [ "$status" -le 192 ]; then trap - "$(kill -l "$status")" 2>/dev/null; kill -s "$(kill -l "$status")" "$$"; fi',
    'exit "$status"',
].join("\n");

/**
 * Runs `/bin/sh -c command` as described at the top of this file. Rejects only when the shell
 * cannot be started.
 */
export function runCommand(command: string, opts: RunOptions): Promise<CommandResult> {
    const cap = opts.outputCapBytes ?? OUTPUT_CAP_BYTES;
    const secrets = opts.secrets ?? [];
    const longest = secrets.reduce((n, s) => Math.max(n, Buffer.byteLength(s)), 0);
    return new Promise((resolve, reject) => {
        const started = Date.now();
        const tail = new OutputTail(cap + longest);
        const child = spawn("/bin/sh", ["-c", GROUP_LEADER, "sh", command], {
            cwd: opts.cwd,
            env: { ...opts.env },
            stdio: ["pipe", "pipe", "pipe"],
            detached: true,
        });
        let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
        let timedOut = false;
        let settled = false;
        const timers: NodeJS.Timeout[] = [];

        const killGroup = (signal: NodeJS.Signals) => {
            if (child.pid === undefined) return;
            try {
                process.kill(-child.pid, signal);
            } catch {
                // ESRCH: the whole group is gone already.
            }
        };
        const finish = () => {
            if (settled) return;
            settled = true;
            for (const t of timers) clearTimeout(t);
            // Whatever of the group is still there (a background job, a process that ignored
            // SIGTERM) goes now: nothing the command started outlives the run.
            killGroup("SIGKILL");
            child.stdin.destroy();
            child.stdout.destroy();
            child.stderr.destroy();
            resolve({
                code: exit?.code ?? null,
                signal: exit?.signal ?? null,
                timedOut,
                output: redactedTail(tail.bytes(), cap, secrets),
                elapsedMs: Date.now() - started,
            });
        };

        // The pipe stays open, and unwritten, for as long as this process lives; an EPIPE once
        // the group is gone is expected.
        child.stdin.on("error", () => undefined);
        child.stdout.on("data", (chunk: Buffer) => tail.push(chunk));
        child.stderr.on("data", (chunk: Buffer) => tail.push(chunk));
        child.on("error", (err) => {
            // Emitted when the shell cannot be spawned; once it ran, 'exit' and 'close' decide.
            if (settled || exit !== undefined) return;
            settled = true;
            for (const t of timers) clearTimeout(t);
            reject(err);
        });
        child.on("exit", (code, signal) => {
            exit = { code, signal };
            timers.push(setTimeout(finish, DRAIN_AFTER_EXIT_MS));
        });
        child.on("close", finish);
        timers.push(
            setTimeout(() => {
                // The shell already exited and only its pipes are draining: it met the deadline.
                if (exit !== undefined) return;
                timedOut = true;
                killGroup("SIGTERM");
                timers.push(setTimeout(() => killGroup("SIGKILL"), KILL_GRACE_MS));
            }, opts.timeoutMs),
        );
    });
}

export interface ToolResult {
    readonly status: number | null;
    readonly stdout: string;
    readonly stderr: string;
    /** Why it did not run or finish: not found, or killed at the timeout. */
    readonly error: string | undefined;
    readonly timedOut: boolean;
}

/**
 * Runs a tool (no shell) synchronously, for the program's own short calls at preview (the
 * migration linter): allowlisted environment, killed with SIGKILL at `timeoutMs`.
 */
export function runTool(file: string, args: readonly string[], opts: { cwd?: string; timeoutMs: number; env?: Readonly<Record<string, string>>; maxBuffer?: number }): ToolResult {
    const run = spawnSync(file, args, {
        ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
        env: { ...(opts.env ?? commandEnv({})) },
        encoding: "utf8",
        timeout: opts.timeoutMs,
        killSignal: "SIGKILL",
        maxBuffer: opts.maxBuffer ?? 16 * 1024 * 1024,
    });
    const timedOut = run.error !== undefined && (run.error as NodeJS.ErrnoException).code === "ETIMEDOUT";
    const error = timedOut ? `killed after its timeout of ${opts.timeoutMs / 1000} s` : run.error ? run.error.message : undefined;
    return { status: run.status, stdout: run.stdout ?? "", stderr: run.stderr ?? "", error, timedOut };
}
