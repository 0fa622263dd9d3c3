// The context guard: before any resource exists, prove that the kubeconfig context this stack
// names is present, points where the stack expects, and is not named for another environment.
// The provider then gets a kubeconfig holding that one context, its cluster and its user, and
// nothing else: never current-context, never the other contexts' credentials.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import type { EnvironmentName } from "./environments";
import { ConfigError, type EnvironmentConfig, PROJECT } from "./schema";

export interface ResolvedCluster {
    /**
     * A kubeconfig with only the stack's context, its cluster and its user, file paths in it made
     * absolute: what the provider is given (as a secret, since the user may hold a token).
     */
    readonly kubeconfig: string;
    /** The kubeconfig files read, in the order they were merged. */
    readonly kubeconfigPaths: readonly string[];
    readonly context: string;
    readonly server: string;
}

/** A kubeconfig file's text and where it was read from (relative paths in it are relative to it). */
export interface KubeconfigSource {
    readonly path: string;
    readonly text: string;
}

type Named<K extends string> = { name?: unknown } & { [key in K]?: Record<string, unknown> };
interface KubeconfigFile {
    clusters?: Named<"cluster">[];
    contexts?: Named<"context">[];
    users?: Named<"user">[];
}

/**
 * The kubeconfig files a stack reads: its `kubeconfig` key; else every $KUBECONFIG entry, merged
 * as kubectl merges them; else ~/.kube/config.
 */
export function kubeconfigPaths(cfg: EnvironmentConfig, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string[] {
    if (cfg.cluster.kubeconfig !== undefined) return [path.resolve(cwd, cfg.cluster.kubeconfig)];
    const entries = (env["KUBECONFIG"] ?? "").split(path.delimiter).filter((p) => p !== "");
    if (entries.length > 0) return [...new Set(entries.map((p) => path.resolve(cwd, p)))];
    return [path.join(env["HOME"] ?? os.homedir(), ".kube", "config")];
}

/** Reads and checks the kubeconfig; throws a ConfigError naming the fix. */
export function resolveCluster(cfg: EnvironmentConfig, files = kubeconfigPaths(cfg)): ResolvedCluster {
    const sources: KubeconfigSource[] = [];
    const unreadable: string[] = [];
    for (const file of files) {
        try {
            sources.push({ path: file, text: fs.readFileSync(file, "utf8") });
        } catch (err) {
            unreadable.push(`${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
        }
    }
    // kubectl skips a $KUBECONFIG entry that does not exist; a file named by the stack must exist.
    if (sources.length === 0 || (cfg.cluster.kubeconfig !== undefined && unreadable.length > 0)) {
        throw new ConfigError(cfg.stack, [
            `kubeconfig ${unreadable.join(", ")} cannot be read. Fix: point KUBECONFIG at your cluster's kubeconfig, or pulumi config set kubeconfig <path> -s ${cfg.stack}`,
        ]);
    }
    return checkCluster(cfg, sources);
}

/** The pure part of the guard: kubeconfig texts in, the verified context out. */
export function checkCluster(cfg: EnvironmentConfig, sources: readonly KubeconfigSource[]): ResolvedCluster {
    const fail = (msg: string): never => {
        throw new ConfigError(cfg.stack, [msg]);
    };
    const where = sources.map((s) => s.path).join(path.delimiter);
    const merged = { clusters: new Map<string, Entry>(), contexts: new Map<string, Entry>(), users: new Map<string, Entry>() };
    for (const source of sources) {
        if (source.text.trim() === "") {
            if (sources.length === 1) fail(`kubeconfig ${source.path} is empty. Fix: point KUBECONFIG at your cluster's kubeconfig, or pulumi config set kubeconfig <path> -s ${cfg.stack}`);
            continue;
        }
        let doc: KubeconfigFile;
        try {
            doc = (parse(source.text) ?? {}) as KubeconfigFile;
        } catch (err) {
            return fail(`kubeconfig ${source.path} is not valid YAML (${(err as Error).message.split("\n")[0]}). Fix: regenerate it with your cluster's tooling`);
        }
        // As kubectl merges: the first file to define a name wins.
        mergeInto(merged.clusters, doc.clusters, "cluster", source.path);
        mergeInto(merged.contexts, doc.contexts, "context", source.path);
        mergeInto(merged.users, doc.users, "user", source.path);
    }

    const want = cfg.cluster.context;
    const ctx = merged.contexts.get(want);
    if (!ctx) {
        const names = [...merged.contexts.keys()];
        return fail(
            `${PROJECT}:kubeContext: context ${JSON.stringify(want)} is not in kubeconfig ${where}; the stack '${cfg.stack}' deploys only there. ` +
                `Available: ${names.length ? names.join(", ") : "(none)"}. Fix: use the kubeconfig of the ${cfg.environment} cluster, or pulumi config set kubeContext <context> -s ${cfg.stack}`,
        );
    }
    const clusterName = typeof ctx.body["cluster"] === "string" ? ctx.body["cluster"] : undefined;
    const cluster = clusterName === undefined ? undefined : merged.clusters.get(clusterName);
    const server = cluster?.body["server"];
    if (typeof server !== "string" || server === "") {
        return fail(`kubeconfig ${ctx.file}: context ${JSON.stringify(want)} names cluster ${JSON.stringify(clusterName)}, which has no server. Fix: regenerate the kubeconfig`);
    }
    if (cfg.cluster.server !== undefined && normalizeServer(server) !== normalizeServer(cfg.cluster.server)) {
        fail(
            `${PROJECT}:kubeServer: context ${JSON.stringify(want)} points at ${server}, but stack '${cfg.stack}' may deploy only to ${cfg.cluster.server}. ` +
                `Refusing before creating anything. Fix: use the ${cfg.environment} cluster's kubeconfig, or if the cluster really moved, pulumi config set kubeServer ${server} -s ${cfg.stack}`,
        );
    }
    // A context or cluster named after another environment is the classic "prod stack, dev
    // cluster" slip; refuse it even when no kubeServer is pinned.
    for (const name of [want, clusterName!]) {
        const named = environmentNamed(name);
        const other = named.is.find((e) => e !== cfg.environment);
        const excluded = named.isNot.includes(cfg.environment);
        if (other !== undefined || excluded) {
            fail(
                `${PROJECT}:kubeContext: stack '${cfg.stack}' (environment ${cfg.environment}) is pointed at context ${JSON.stringify(want)} (cluster ${JSON.stringify(clusterName)}), ` +
                    `which is named for ${other ?? `anything but ${cfg.environment}`}. Refusing before creating anything. Fix: pulumi config set kubeContext <the ${cfg.environment} context> -s ${cfg.stack}`,
            );
        }
    }

    const userName = typeof ctx.body["user"] === "string" ? ctx.body["user"] : undefined;
    const user = userName === undefined ? undefined : merged.users.get(userName);
    const minimal = {
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: clusterName, cluster: absolutePaths(cluster!.body, cluster!.file, ["certificate-authority"]) }],
        contexts: [{ name: want, context: ctx.body }],
        users: user ? [{ name: userName, user: absolutePaths(user.body, user.file, ["client-certificate", "client-key", "tokenFile"]) }] : [],
        "current-context": want,
    };
    return { kubeconfig: stringify(minimal), kubeconfigPaths: sources.map((s) => s.path), context: want, server };
}

interface Entry {
    readonly body: Record<string, unknown>;
    readonly file: string;
}

function mergeInto<K extends "cluster" | "context" | "user">(into: Map<string, Entry>, list: Named<K>[] | undefined, field: K, file: string): void {
    for (const item of Array.isArray(list) ? list : []) {
        const body = item?.[field];
        if (typeof item?.name === "string" && !into.has(item.name) && typeof body === "object" && body !== null) into.set(item.name, { body, file });
    }
}

/** A copy with the named file fields (and an exec plugin's relative command) resolved against the kubeconfig's directory. */
function absolutePaths(body: Record<string, unknown>, file: string, fields: readonly string[]): Record<string, unknown> {
    const dir = path.dirname(file);
    const out: Record<string, unknown> = { ...body };
    for (const field of fields) {
        const v = out[field];
        if (typeof v === "string" && v !== "" && !path.isAbsolute(v)) out[field] = path.resolve(dir, v);
    }
    const exec = out["exec"];
    if (typeof exec === "object" && exec !== null) {
        const command = (exec as Record<string, unknown>)["command"];
        // kubectl resolves a command with a path separator against the kubeconfig's directory.
        if (typeof command === "string" && command.includes("/") && !path.isAbsolute(command)) out["exec"] = { ...exec, command: path.resolve(dir, command) };
    }
    return out;
}

/** Names that mean an environment, after `pre`/`non`/`not` are joined to the word they qualify. */
const ENVIRONMENT_WORDS: Readonly<Record<string, { is?: EnvironmentName; isNot?: EnvironmentName }>> = {
    dev: { is: "dev" },
    development: { is: "dev" },
    staging: { is: "staging" },
    stage: { is: "staging" },
    stg: { is: "staging" },
    preprod: { is: "staging" },
    preproduction: { is: "staging" },
    prod: { is: "prod" },
    production: { is: "prod" },
    prd: { is: "prod" },
    nonprod: { isNot: "prod" },
    nonproduction: { isNot: "prod" },
    notprod: { isNot: "prod" },
};

/**
 * What a context or cluster name says about its environment, word by word (split at anything
 * not a letter or digit): `gke_acme_prod-1` is prod, `pre-prod` is staging, `non-prod` is
 * anything but prod, and `product-catalog` says nothing.
 */
export function environmentNamed(name: string): { is: EnvironmentName[]; isNot: EnvironmentName[] } {
    const words = name.toLowerCase().split(/[^a-z0-9]+/).filter((w) => w !== "");
    const joined: string[] = [];
    for (let i = 0; i < words.length; i += 1) {
        const w = words[i]!;
        joined.push(["pre", "non", "not"].includes(w) && i + 1 < words.length ? w + words[++i]! : w);
    }
    const meanings = joined.map((w) => ENVIRONMENT_WORDS[w]).filter((m) => m !== undefined);
    return {
        is: [...new Set(meanings.map((m) => m.is).filter((e) => e !== undefined))],
        isNot: [...new Set(meanings.map((m) => m.isNot).filter((e) => e !== undefined))],
    };
}

function normalizeServer(url: string): string {
    return url.trim().replace(/\/+$/, "").toLowerCase();
}
