// `progression smoke <baseUrl>`: the smoke engine from a shell or CI step. Exit 0 when every
// check passed, 1 when any failed, 2 on a usage error (thrown as UsageError; cli/main prints it).
import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { DEFAULT_CHECKS, DEFAULTS, MAX_CHECKS_FILE_BYTES, parseChecks, resolveSmokeOptions, SmokeConfigError, type SmokeOptionLabels } from "../smoke/checks";
import { runSmoke } from "../smoke/engine";
import { formatReport } from "../smoke/format";
import type { SmokeOptions } from "../smoke/types";
import { parseDuration, UsageError } from "./args";

/** The flags as the user typed them, so an error names the flag and its units, not an internal field. */
const LABELS: SmokeOptionLabels = {
    deadlineMs: "--deadline",
    timeoutMs: "--timeout",
    intervalMs: "--interval",
    consecutivePasses: "--passes",
    failureLimit: "--failure-limit",
};

export const usage = `usage: progression smoke <baseUrl> [options]

Polls the app's critical paths until each passes N times in a row, or the deadline passes.

options:
  --deadline D      overall deadline (default ${DEFAULTS.deadlineMs / 1000}s); durations take ms, s or m
  --timeout D       per-request timeout (default ${DEFAULTS.timeoutMs / 1000}s)
  --interval D      pause after a failed attempt (default ${DEFAULTS.intervalMs / 1000}s); doubled after each further
                    transport error or 5xx, up to 5s; consecutive passes are ${DEFAULTS.passIntervalMs}ms apart
  --passes N        consecutive passes each check needs (default ${DEFAULTS.consecutivePasses})
  --failure-limit N an assertion failing the same way N times in a row fails the run at once
                    (default ${DEFAULTS.failureLimit}; 0 waits for the deadline); transport errors and 5xx never count
  --checks FILE     JSON checks: an array replaces the defaults,
                    {"includeDefaults": true, "checks": [...]} adds to them
  --ca FILE         PEM CA certificate trusted in addition to the system roots
  --header 'N: V'   header sent with every check (repeatable); values are redacted in reports
  --json            print the report as JSON instead of text
  -h, --help        show this help

default checks: GET /healthz 2xx; GET /api/version JSON version non-empty;
GET /api/db-status JSON connected === true; POST /api/test-action {"test":true} JSON success === true

exit status: 0 all checks passed, 1 a check failed, 2 usage error`;

function readText(flag: string, file: string, maxBytes?: number): string {
    try {
        if (maxBytes !== undefined) {
            const fd = openSync(file, "r");
            try {
                const size = fstatSync(fd).size;
                if (size > maxBytes) {
                    throw new UsageError(
                        `${flag} '${file}': ${size} bytes is too large for a checks file; allowed: up to ${maxBytes} bytes (at most 100 checks); fix: keep the critical paths`,
                    );
                }
            } finally {
                closeSync(fd);
            }
        }
        return readFileSync(file, "utf8");
    } catch (err) {
        if (err instanceof UsageError) throw err;
        const code = (err as NodeJS.ErrnoException).code ?? "error";
        throw new UsageError(`${flag} '${file}': cannot read the file (${code}); fix: give the path of a readable file`);
    }
}

function wholeNumber(flag: string, value: string, min: number): number {
    if (!/^\d+$/.test(value) || Number(value) < min) {
        throw new UsageError(`${flag} '${value}' is not a ${min === 0 ? "whole number" : "positive integer"}; fix: e.g. ${flag} 3`);
    }
    return Number(value);
}

function parseHeader(value: string): [string, string] {
    const i = value.indexOf(":");
    if (i <= 0) {
        // Never echo the value: it is likely a credential.
        throw new UsageError(`--header expects 'Name: value' (a colon after the name); fix: e.g. --header 'Authorization: Bearer ...'`);
    }
    return [value.slice(0, i).trim(), value.slice(i + 1).trim()];
}

export async function run(argv: string[]): Promise<number> {
    let parsed;
    try {
        parsed = parseArgs({
            args: argv,
            allowPositionals: true,
            strict: true,
            options: {
                deadline: { type: "string" },
                timeout: { type: "string" },
                interval: { type: "string" },
                passes: { type: "string" },
                "failure-limit": { type: "string" },
                checks: { type: "string" },
                ca: { type: "string" },
                header: { type: "string", multiple: true },
                json: { type: "boolean" },
                help: { type: "boolean", short: "h" },
            },
        });
    } catch (err) {
        throw new UsageError(`${(err as Error).message}\n\n${usage}`);
    }
    const { values, positionals } = parsed;
    if (values.help) {
        process.stdout.write(usage + "\n");
        return 0;
    }
    if (positionals.length !== 1) {
        throw new UsageError(`expected exactly one <baseUrl>, got ${positionals.length}; fix: e.g. progression smoke http://127.0.0.1:8080\n\n${usage}`);
    }
    const baseUrl = positionals[0]!;

    const options: {
        -readonly [K in keyof SmokeOptions]: SmokeOptions[K];
    } = {};
    if (values.deadline !== undefined) options.deadlineMs = parseDuration("--deadline", values.deadline);
    if (values.timeout !== undefined) options.timeoutMs = parseDuration("--timeout", values.timeout);
    if (values.interval !== undefined) options.intervalMs = parseDuration("--interval", values.interval);
    if (values.passes !== undefined) options.consecutivePasses = wholeNumber("--passes", values.passes, 1);
    if (values["failure-limit"] !== undefined) options.failureLimit = wholeNumber("--failure-limit", values["failure-limit"], 0);
    if (values.ca !== undefined) options.caPem = readText("--ca", values.ca);
    if (values.header !== undefined) options.headers = Object.fromEntries(values.header.map(parseHeader));

    let checks = DEFAULT_CHECKS;
    try {
        resolveSmokeOptions(options, LABELS);
        if (values.checks !== undefined) checks = parseChecks(readText("--checks", values.checks, MAX_CHECKS_FILE_BYTES), values.checks);
        const report = await runSmoke(baseUrl, checks, options);
        process.stdout.write((values.json ? JSON.stringify(report, null, 2) : formatReport(report)) + "\n");
        return report.ok ? 0 : 1;
    } catch (err) {
        if (err instanceof SmokeConfigError) throw new UsageError(err.message);
        throw err;
    }
}
