// The context guard: before any resource exists, prove that the kubeconfig context this stack
// names is present, points where the stack expects, and does not look like another
// environment's cluster. The provider is then pinned to that context, never to current-context.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { ENVIRONMENTS } from "./environments";
import { ConfigError, type EnvironmentConfig, PROJECT } from "./schema";

export interface ResolvedCluster {
    /** The kubeconfig file's contents, handed to the provider. */
    readonly kubeconfig: string;
    readonly kubeconfigPath: string;
    readonly context: string;
    readonly server: string;
}

interface KubeconfigFile {
    contexts?: { name?: string; context?: { cluster?: string } }[];
    clusters?: { name?: string; cluster?: { server?: string } }[];
}

/** Which kubeconfig file a stack uses: its `kubeconfig` key, then $KUBECONFIG's first entry, then ~/.kube/config. */
export function kubeconfigPath(cfg: EnvironmentConfig, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
    const first = env["KUBECONFIG"]?.split(path.delimiter).find((p) => p !== "");
    const chosen = cfg.cluster.kubeconfig ?? first ?? path.join(env["HOME"] ?? os.homedir(), ".kube", "config");
    return path.resolve(cwd, chosen);
}

/** Reads and checks the kubeconfig; throws a ConfigError naming the fix. */
export function resolveCluster(cfg: EnvironmentConfig, file = kubeconfigPath(cfg)): ResolvedCluster {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? String(err);
        throw new ConfigError(cfg.stack, [
            `kubeconfig ${file} cannot be read (${code}). Fix: point KUBECONFIG at your cluster's kubeconfig, or pulumi config set kubeconfig <path> -s ${cfg.stack}`,
        ]);
    }
    return checkCluster(cfg, text, file);
}

/** The pure part of the guard: kubeconfig text in, the verified context out. */
export function checkCluster(cfg: EnvironmentConfig, text: string, file: string): ResolvedCluster {
    const fail = (msg: string): never => {
        throw new ConfigError(cfg.stack, [msg]);
    };
    if (text.trim() === "") {
        fail(`kubeconfig ${file} is empty. Fix: point KUBECONFIG at your cluster's kubeconfig, or pulumi config set kubeconfig <path> -s ${cfg.stack}`);
    }
    let doc: KubeconfigFile;
    try {
        doc = (parse(text) ?? {}) as KubeconfigFile;
    } catch (err) {
        return fail(`kubeconfig ${file} is not valid YAML (${(err as Error).message.split("\n")[0]}). Fix: regenerate it with your cluster's tooling`);
    }
    const want = cfg.cluster.context;
    const names = (doc.contexts ?? []).map((c) => c.name).filter((n): n is string => typeof n === "string");
    const ctx = (doc.contexts ?? []).find((c) => c.name === want);
    if (!ctx) {
        fail(
            `${PROJECT}:kubeContext: context ${JSON.stringify(want)} is not in kubeconfig ${file}; the stack '${cfg.stack}' deploys only there. ` +
                `Available: ${names.length ? names.join(", ") : "(none)"}. Fix: use the kubeconfig of the ${cfg.environment} cluster, or pulumi config set kubeContext <context> -s ${cfg.stack}`,
        );
    }
    const clusterName = ctx!.context?.cluster;
    const server = (doc.clusters ?? []).find((c) => c.name === clusterName)?.cluster?.server;
    if (!server) {
        fail(`kubeconfig ${file}: context ${JSON.stringify(want)} names cluster ${JSON.stringify(clusterName)}, which has no server. Fix: regenerate the kubeconfig`);
    }
    if (cfg.cluster.server !== undefined && normalizeServer(server!) !== normalizeServer(cfg.cluster.server)) {
        fail(
            `${PROJECT}:kubeServer: context ${JSON.stringify(want)} points at ${server}, but stack '${cfg.stack}' may deploy only to ${cfg.cluster.server}. ` +
                `Refusing before creating anything. Fix: use the ${cfg.environment} cluster's kubeconfig, or if the cluster really moved, pulumi config set kubeServer ${server} -s ${cfg.stack}`,
        );
    }
    // A context or cluster named after another environment is the classic "prod stack, dev
    // cluster" slip; refuse it even when no kubeServer is pinned.
    const other = ENVIRONMENTS.filter((e) => e !== cfg.environment).find((e) =>
        [want, clusterName ?? ""].some((n) => new RegExp(`(^|[^a-z])${e}([^a-z]|$)`, "i").test(n)),
    );
    if (other !== undefined) {
        fail(
            `${PROJECT}:kubeContext: stack '${cfg.stack}' (environment ${cfg.environment}) is pointed at context ${JSON.stringify(want)} (cluster ${JSON.stringify(clusterName)}), which is named for ${other}. ` +
                `Refusing before creating anything. Fix: pulumi config set kubeContext <the ${cfg.environment} context> -s ${cfg.stack}`,
        );
    }
    return { kubeconfig: text, kubeconfigPath: file, context: want, server: server! };
}

function normalizeServer(url: string): string {
    return url.trim().replace(/\/+$/, "").toLowerCase();
}
