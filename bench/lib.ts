// Shared pieces of the benchmark: samples and their statistics, timing child processes (wall time
// and peak memory), and the results file.
import { spawn, type SpawnOptions } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";

export const REPO = path.resolve(__dirname, "..");
export const RESULTS = path.join(REPO, "bench", "results.json");

export type Unit = "s" | "ms" | "MiB";

/** One measured quantity: every sample, and what the table shows. */
export interface Measure {
    readonly id: string;
    readonly title: string;
    readonly unit: Unit;
    readonly samples: number[];
    /** Set when a run could not produce a sample (a tool missing, a time limit hit). */
    readonly note?: string;
}

export interface Stats {
    readonly min: number;
    readonly median: number;
    readonly max: number;
}

export function stats(samples: readonly number[]): Stats | undefined {
    if (samples.length === 0) return undefined;
    const s = [...samples].sort((a, b) => a - b);
    const mid = s.length >> 1;
    const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
    return { min: s[0]!, median, max: s[s.length - 1]! };
}

/** A target: `measure` (median) must be at most `limit`, or at most `ratio` times `against` (median). */
export interface Target {
    readonly id: string;
    readonly what: string;
    readonly measure: string;
    readonly limit?: number;
    readonly against?: string;
    readonly ratio?: number;
}

export interface TargetResult extends Target {
    readonly value?: number;
    readonly bound?: number;
    readonly met?: boolean;
    /** Why there is no value: the run hit a limit or crashed (then the target is missed). */
    readonly note?: string;
}

export function judge(targets: readonly Target[], measures: ReadonlyMap<string, Measure>): TargetResult[] {
    return targets.map((t) => {
        const measure = measures.get(t.measure);
        const value = stats(measure?.samples ?? [])?.median;
        if (value === undefined && measure?.note !== undefined) return { ...t, met: false, note: measure.note };
        const base = t.against !== undefined ? stats(measures.get(t.against)?.samples ?? [])?.median : undefined;
        const bound = t.limit ?? (base !== undefined && t.ratio !== undefined ? base * t.ratio : undefined);
        return {
            ...t,
            ...(value !== undefined ? { value } : {}),
            ...(bound !== undefined ? { bound } : {}),
            ...(value !== undefined && bound !== undefined ? { met: value <= bound } : {}),
        };
    });
}

export class Recorder {
    readonly measures = new Map<string, Measure>();

    add(id: string, title: string, unit: Unit, value: number): void {
        const m = this.measures.get(id);
        if (m) m.samples.push(value);
        else this.measures.set(id, { id, title, unit, samples: [value] });
    }

    note(id: string, title: string, unit: Unit, note: string): void {
        const m = this.measures.get(id);
        this.measures.set(id, { id, title, unit, samples: m?.samples ?? [], note });
    }
}

export interface Timed {
    readonly code: number | null;
    readonly seconds: number;
    /** Peak resident memory of the process tree's main process, from GNU time, in MiB. */
    readonly peakMiB?: number;
    readonly stdout: string;
    readonly stderr: string;
    readonly timedOut: boolean;
    /** Stopped at the memory limit. */
    readonly overMemory: boolean;
}

/** Resident memory of every process in a process group, from /proc, in MiB. */
function groupRssMiB(pgid: number): number {
    let kb = 0;
    for (const entry of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
            // Fields after the command name (which may hold spaces): state ppid pgrp ...
            const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
            if (Number(fields[2]) !== pgid) continue;
            const status = fs.readFileSync(`/proc/${entry}/status`, "utf8");
            kb += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
        } catch {
            // gone meanwhile
        }
    }
    return kb / 1024;
}

/**
 * Runs a command and times it from spawn to exit. With `memory`, it runs under GNU time to read
 * the peak resident set size. `limitMs` kills it (and its process group) when exceeded.
 */
export function timed(
    command: string,
    args: readonly string[],
    opts: SpawnOptions & { memory?: boolean; limitMs?: number; limitMiB?: number; input?: string } = {},
): Promise<Timed> {
    const { memory, limitMs, limitMiB, input, ...spawnOpts } = opts;
    const timeFile = memory ? path.join(os.tmpdir(), `bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`) : undefined;
    const [cmd, argv] = timeFile ? ["/usr/bin/time", ["-f", "%M", "-o", timeFile, command, ...args]] : [command, [...args]];
    return new Promise((resolve, reject) => {
        const t0 = performance.now();
        const child = spawn(cmd, argv, { ...spawnOpts, detached: true, stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        let timedOut = false;
        child.stdout.on("data", (d: Buffer) => (stdout.length < 1_000_000 ? (stdout += d.toString()) : undefined));
        child.stderr.on("data", (d: Buffer) => (stderr.length < 1_000_000 ? (stderr += d.toString()) : undefined));
        child.stdin.end(input ?? "");
        let overMemory = false;
        const kill = () => {
            try {
                process.kill(-child.pid!, "SIGKILL");
            } catch {
                // already gone
            }
        };
        const timer =
            limitMs === undefined
                ? undefined
                : setTimeout(() => {
                      timedOut = true;
                      kill();
                  }, limitMs);
        // The whole process group's resident memory, sampled: a tool that would take the machine's
        // memory is stopped at limitMiB instead.
        let peakGroupMiB = 0;
        const watch =
            limitMiB === undefined
                ? undefined
                : setInterval(() => {
                      const mib = groupRssMiB(child.pid!);
                      peakGroupMiB = Math.max(peakGroupMiB, mib);
                      if (mib > limitMiB) {
                          overMemory = true;
                          kill();
                      }
                  }, 250);
        child.on("error", reject);
        child.on("close", (code) => {
            const seconds = (performance.now() - t0) / 1000;
            if (timer) clearTimeout(timer);
            if (watch) clearInterval(watch);
            let peakMiB: number | undefined;
            if (timeFile && fs.existsSync(timeFile)) {
                const kb = Number(fs.readFileSync(timeFile, "utf8").trim().split("\n").pop());
                if (Number.isFinite(kb)) peakMiB = kb / 1024;
                fs.rmSync(timeFile, { force: true });
            }
            if (peakMiB === undefined && peakGroupMiB > 0) peakMiB = peakGroupMiB;
            resolve({ code, seconds, stdout, stderr, timedOut, overMemory, ...(peakMiB !== undefined ? { peakMiB } : {}) });
        });
    });
}

/** Runs a command that must succeed; throws with its output otherwise. */
export async function must(command: string, args: readonly string[], opts: SpawnOptions & { input?: string; limitMs?: number } = {}): Promise<Timed> {
    const r = await timed(command, args, opts);
    if (r.code !== 0)
        throw new Error(
            `${command} ${args.join(" ")} exited ${r.code}${r.timedOut ? " (time limit)" : ""}:\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`,
        );
    return r;
}

export async function seconds<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number }> {
    const t0 = performance.now();
    const value = await fn();
    return { value, seconds: (performance.now() - t0) / 1000 };
}

export function log(message: string): void {
    process.stderr.write(`bench: ${message}\n`);
}

/** What the figures were measured on. */
export function machine(): Record<string, unknown> {
    const cpus = os.cpus();
    return {
        cpus: cpus.length,
        cpuModel: cpus[0]?.model ?? "unknown",
        memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
        os: `${os.type()} ${os.release()}`,
        node: process.version,
        loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
    };
}
