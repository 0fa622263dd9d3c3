// Smoke: where the checks reach the app and how long they may take. Every timing rule is the
// engine's own (smoke/limits.ts), so nothing accepted here fails later inside SmokeTest, after
// the app was rolled out.
import { deadlineConflictFixes, formatDuration, minimumDeadlineMs, passIntervalMs, SMOKE_DEFAULTS as ENGINE_DEFAULTS, SMOKE_LIMITS, type TimingSetting } from "../../smoke/limits";
import { baseUrlProblem } from "../../smoke/checks";
import { type ConfigReader, parseDurationMs, PROJECT, show } from "../reader";
import type { Identity } from "./identity";

export interface SmokeConfig {
    /** The live route: where users reach the app, and where the check after the switch goes. */
    readonly baseUrl: string;
    /**
     * The preview route: where the checks reach the candidate revision (the preview Service)
     * before any live traffic does, as reached from where `pulumi up` runs.
     */
    readonly previewUrl: string;
    readonly timeoutMs: number;
    readonly deadlineMs: number;
    readonly intervalMs: number;
    readonly passes: number;
    /**
     * How many times in a row an assertion must fail the same way, once the rollout is done,
     * before the check fails for good; 0 waits for the deadline. Transport errors and 5xx never count.
     */
    readonly failureLimit: number;
    /** A JSON file of checks replacing the default set, relative to the project. */
    readonly checksFile: string | undefined;
    /** A shell command run instead of the HTTP checks (command mode). */
    readonly command: string | undefined;
    readonly runOnEveryUp: boolean;
}

const seconds = (ms: number) => `${ms / 1000}s`;

/** The config keys' defaults, as Pulumi.yaml states them: the engine's own (smoke/limits.ts), in seconds. */
export const SMOKE_DEFAULTS = {
    smokeTimeout: seconds(ENGINE_DEFAULTS.timeoutMs),
    smokeDeadline: seconds(ENGINE_DEFAULTS.deadlineMs),
    smokeInterval: seconds(ENGINE_DEFAULTS.intervalMs),
    smokePasses: ENGINE_DEFAULTS.consecutivePasses,
    smokeFailureLimit: ENGINE_DEFAULTS.failureLimit,
} as const;

const DEFAULT_MINIMUM_MS = minimumDeadlineMs({
    consecutivePasses: SMOKE_DEFAULTS.smokePasses,
    passIntervalMs: passIntervalMs(parseDurationMs(SMOKE_DEFAULTS.smokeInterval)!),
});

const KEY_OF: Record<TimingSetting, string> = {
    timeoutMs: "smokeTimeout",
    deadlineMs: "smokeDeadline",
    intervalMs: "smokeInterval",
    consecutivePasses: "smokePasses",
};

/** Keys: smokeBaseUrl, smokePreviewUrl, smokeTimeout, smokeDeadline, smokeInterval, smokePasses, smokeFailureLimit, smokeChecksFile, smokeCommand, smokeEveryUp. */
export function validateSmoke(read: ConfigReader, id: Identity): SmokeConfig {
    const host = `https://<${id.environment} host>`;
    const baseUrl = read.required(
        "smokeBaseUrl",
        "an http(s) URL that reaches the app from there, e.g. its ingress URL",
        host,
        `: the checks run where \`pulumi up\` runs (a laptop, CI, Pulumi Deployments), which cannot resolve the Service's in-cluster name ${id.appName}.${id.namespace}.svc.cluster.local`,
    );
    if (baseUrl !== undefined) {
        const problem = baseUrlProblem(baseUrl);
        if (problem) read.problem(`${PROJECT}:smokeBaseUrl: ${problem.what}. Allowed: ${problem.allowed}. Fix: ${read.fix("smokeBaseUrl", host)}`);
    }

    const previewUrl = read.required(
        "smokePreviewUrl",
        "an http(s) URL that reaches the preview Service, which selects only the candidate revision",
        `https://<${id.environment} preview host>`,
        `: the checks run against the candidate there, before any live traffic moves to it (the preview Service is ${id.appName}-preview.${id.namespace}.svc.cluster.local)`,
    );
    if (previewUrl !== undefined) {
        const problem = baseUrlProblem(previewUrl);
        if (problem) read.problem(`${PROJECT}:smokePreviewUrl: ${problem.what}. Allowed: ${problem.allowed}. Fix: ${read.fix("smokePreviewUrl", `https://<${id.environment} preview host>`)}`);
        else if (baseUrl !== undefined && baseUrlProblem(baseUrl) === undefined && new URL(previewUrl).href === new URL(baseUrl).href) {
            read.problem(
                `${PROJECT}:smokePreviewUrl: ${show(previewUrl)} is the live route (smokeBaseUrl), so the checks would judge the candidate with live traffic's route. ` +
                    `Allowed: the route to the preview Service ${id.appName}-preview. Fix: ${read.fix("smokePreviewUrl", `https://<${id.environment} preview host>`)}`,
            );
        }
    }

    const L = SMOKE_LIMITS;
    const before = read.problems.length;
    const timeoutMs = read.duration("smokeTimeout", { fallback: SMOKE_DEFAULTS.smokeTimeout, minMs: L.timeoutMs.min, maxMs: L.timeoutMs.max });
    const deadlineMs = read.duration("smokeDeadline", { fallback: SMOKE_DEFAULTS.smokeDeadline, minMs: L.deadlineMs.min, maxMs: L.deadlineMs.max });
    const intervalMs = read.duration("smokeInterval", { fallback: SMOKE_DEFAULTS.smokeInterval, minMs: L.intervalMs.min, maxMs: L.intervalMs.max });
    const passes = read.int("smokePasses", { fallback: SMOKE_DEFAULTS.smokePasses, min: L.consecutivePasses.min, max: L.consecutivePasses.max });
    const failureLimit = read.int("smokeFailureLimit", {
        fallback: SMOKE_DEFAULTS.smokeFailureLimit,
        min: L.failureLimit.min,
        max: L.failureLimit.max,
        why: " (an assertion failing the same way this many times in a row fails the check at once; 0 waits for the deadline)",
    });
    const timingValid = read.problems.length === before;

    const checksFile = read.string("smokeChecksFile");
    const command = read.string("smokeCommand");
    if (command !== undefined && command.trim() === "") {
        read.problem(`${PROJECT}:smokeCommand: ${show(command)} is blank. Allowed: a shell command such as ./scripts/smoke-test.sh. Fix: pulumi config rm smokeCommand -s ${read.stack}`);
    }
    if (command !== undefined && checksFile !== undefined) {
        read.problem(
            `${PROJECT}:smokeChecksFile: is set together with smokeCommand, which runs instead of the checks, so the file would be ignored. Allowed: one of them. ` +
                `Fix: pulumi config rm smokeChecksFile -s ${read.stack}, or pulumi config rm smokeCommand -s ${read.stack}`,
        );
    }
    // A command runs once, with no request timeout or interval: only the deadline's range applies.
    const timing = { timeoutMs, deadlineMs, intervalMs, consecutivePasses: passes };
    const minimum = minimumDeadlineMs({ consecutivePasses: passes, passIntervalMs: passIntervalMs(intervalMs) });
    if (timingValid && command === undefined && deadlineMs < minimum) {
        let fixes = deadlineConflictFixes(timing)
            .slice(0, 2)
            .map((f) => read.fix(KEY_OF[f.setting], f.setting === "consecutivePasses" ? String(f.value) : formatDuration(f.value)));
        if (fixes.length === 0) {
            // No single change fits within the limits: back to the defaults, which always fit.
            const keys = ["smokeTimeout", "smokeInterval", "smokePasses", ...(deadlineMs < DEFAULT_MINIMUM_MS ? ["smokeDeadline"] : [])];
            fixes = [keys.map((k) => `pulumi config rm ${k} -s ${read.stack}`).join(" && ")];
        }
        read.problem(
            `${PROJECT}:smokeDeadline: ${formatDuration(deadlineMs)} leaves no time for ${passes} consecutive passes ${formatDuration(passIntervalMs(intervalMs))} apart. ` +
                `Allowed: more than (smokePasses - 1) x ${formatDuration(passIntervalMs(intervalMs))} = ${formatDuration(minimum - 1)}. Fix: ${fixes.join(", or ")}`,
        );
    }
    return { baseUrl: baseUrl ?? "", previewUrl: previewUrl ?? "", timeoutMs, deadlineMs, intervalMs, passes, failureLimit, checksFile, command, runOnEveryUp: read.bool("smokeEveryUp", false) };
}
