// What a failed candidate's pods say, for the report of a failed check: each pod's phase,
// readiness, its app container's state and restarts, and the end of its log. The candidate keeps
// running behind the preview route after a failure; this is what to look at first.
import { type KubeApi, labelSelector } from "../kube/api";

const LOG_LINES = 20;
const MAX_PODS = 5;

interface Pod {
    metadata: { name: string };
    status?: {
        phase?: string;
        conditions?: { type: string; status: string }[];
        containerStatuses?: {
            name: string;
            restartCount?: number;
            state?: Record<string, { reason?: string; message?: string; exitCode?: number } | undefined>;
            lastState?: Record<string, { reason?: string; exitCode?: number } | undefined>;
        }[];
    };
}

/** One line for a pod's app container: `running`, `waiting: CrashLoopBackOff (...)`, `terminated: Error (exit 1)`. */
export function containerLine(pod: Pod): string {
    const c = pod.status?.containerStatuses?.find((s) => s.name === "app");
    if (!c) return "no container status yet";
    const [state, detail] = Object.entries(c.state ?? {}).find(([, v]) => v !== undefined) ?? ["unknown", undefined];
    const reason = detail?.reason ? `: ${detail.reason}` : "";
    const exit = detail?.exitCode !== undefined ? ` (exit ${detail.exitCode})` : "";
    const last = Object.entries(c.lastState ?? {}).find(([, v]) => v !== undefined);
    const before = last ? `; before: ${last[0]}${last[1]?.reason ? `: ${last[1].reason}` : ""}` : "";
    return `${state}${reason}${exit}, ${c.restartCount ?? 0} restarts${before}`;
}

/** The candidate revision's pods as report lines, with the end of each log; never throws. */
export async function candidateReport(api: KubeApi, namespace: string, selector: Record<string, string>): Promise<string> {
    try {
        const list = await api.request<{ items: Pod[] }>("GET", `/api/v1/namespaces/${namespace}/pods?${labelSelector(selector)}`, { timeoutMs: 5_000 });
        if (list.items.length === 0) return "candidate pods: none found";
        const out: string[] = [];
        for (const pod of list.items.slice(0, MAX_PODS)) {
            const ready = pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ? "ready" : "not ready";
            out.push(`pod ${pod.metadata.name}: ${pod.status?.phase ?? "Unknown"}, ${ready}, container ${containerLine(pod)}`);
            const log = await api
                .request<string>("GET", `/api/v1/namespaces/${namespace}/pods/${pod.metadata.name}/log?container=app&tailLines=${LOG_LINES}`, { timeoutMs: 5_000, text: true })
                .catch((e: unknown) => `(no log: ${(e as Error).message})`);
            if (log.trim() !== "") out.push(...log.trimEnd().split("\n").map((l) => `  | ${l}`));
        }
        if (list.items.length > MAX_PODS) out.push(`... and ${list.items.length - MAX_PODS} more pods`);
        return out.join("\n");
    } catch (err) {
        return `candidate pods: could not be read (${(err as Error).message})`;
    }
}
