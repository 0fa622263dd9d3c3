// A policy pack in its own process, started exactly as the Pulumi CLI's language host starts it
// (the SDK's run-policy-pack in the pack's folder, the stack's name and config in the
// environment), and driven over the analyzer gRPC protocol by a client standing in for the engine.
import { type ChildProcess, spawn } from "node:child_process";
import * as grpc from "@grpc/grpc-js";
import * as structproto from "google-protobuf/google/protobuf/struct_pb";
import * as analyzerrpc from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import * as analyzerproto from "@pulumi/pulumi/proto/analyzer_pb";

export const LEVEL = ["advisory", "mandatory", "disabled", "remediate"] as const;

export interface PackProcess {
    readonly client: analyzerrpc.AnalyzerClient;
    readonly child: ChildProcess;
    readonly stderr: () => string;
}

/**
 * Starts the pack in `dir` with `runPolicyPack` (the SDK entry point the pack's own node_modules
 * provides when it is installed on its own) and connects to the port it prints.
 */
export async function startPack(dir: string, runPolicyPack: string, stack: string, config: Record<string, string>): Promise<PackProcess> {
    // Arguments as the host passes them: the engine's address (unused by a pack), then the pack.
    const child = spawn(process.execPath, [runPolicyPack, "127.0.0.1:0", dir], {
        cwd: dir,
        env: { ...process.env, PULUMI_NODEJS_STACK: stack, PULUMI_NODEJS_PROJECT: "env-progression", PULUMI_CONFIG: JSON.stringify(config) },
        stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const port = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (d: Buffer) => {
            out += d.toString();
            const line = out.split("\n")[0]!.trim();
            if (out.includes("\n") && /^\d+$/.test(line)) resolve(line);
        });
        child.on("exit", (code) => reject(new Error(`the policy pack exited with ${code} before serving:\n${stderr}`)));
    });
    const client = new analyzerrpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    return { client, child, stderr: () => stderr };
}

export function stopPack(p: PackProcess | undefined): void {
    if (!p) return;
    p.client.close();
    if (p.child.exitCode === null && p.child.pid !== undefined) process.kill(p.child.pid, "SIGTERM");
}

export function unary<Req, Res>(fn: (req: Req, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown, req: Req): Promise<Res> {
    return new Promise((resolve, reject) => fn(req, (err, res) => (err ? reject(err) : resolve(res))));
}

/** The engine's Configure call with a policy config file's content. */
export function configureRequest(config: Record<string, unknown>): analyzerproto.ConfigureAnalyzerRequest {
    const req = new analyzerproto.ConfigureAnalyzerRequest();
    const map = req.getPolicyconfigMap();
    const all = typeof config["all"] === "string" ? config["all"] : undefined;
    for (const [name, value] of Object.entries(config)) {
        if (name === "all") continue;
        const pc = new analyzerproto.PolicyConfig();
        if (all) pc.setEnforcementlevel(LEVEL.indexOf(all as (typeof LEVEL)[number]));
        pc.setProperties(structproto.Struct.fromJavaScript(value as Record<string, structproto.JavaScriptValue>));
        map.set(name, pc);
    }
    return req;
}
