// `npm run demo`: dev -> staging -> prod on the built-in local cluster, each environment gated on
// the previous one's smoke checks. Safe to re-run: the cluster, the state, the passphrase and the
// generated secrets are kept in .local/ and reused.
//
//   npm run demo                    the progression
//   npm run demo -- --fail staging=db   staging's app answers connected:false: staging fails, prod is not deployed
//   npm run demo -- --promote-unverified   prod is configured with an image staging never verified: prod refuses
//   npm run demo:down               stop the apps and the cluster (state is kept)
import * as fs from "node:fs";
import * as path from "node:path";
import { ENVIRONMENTS, type EnvironmentName } from "../config/environments";
import { clusterDown, clusterUp, kubectlJson, localSecrets, prepareStack, progress, REPO, startApp, stopApp, useToolchain, workspace } from "./local";

const LOCAL = path.join(REPO, ".local");
const KUBECONFIG = path.join(LOCAL, "kubeconfig");
// The same cluster `npm run cluster:up` starts.
const CLUSTER = "env-progression";
const PORTS: Record<EnvironmentName, number> = { dev: 18081, staging: 18082, prod: 18083 };
// The demo shows the gate on every run, so `--fail staging=db` stops a re-run too; a real stack
// checks only when what is deployed changes (smokeEveryUp defaults to false).
const DEMO_OVERRIDES = { smokeDeadline: "20s", smokeEveryUp: true };

// An image staging never ran: with --promote-unverified, prod is configured with it and refuses.
const UNVERIFIED_IMAGE = "ghcr.io/env-progression/web:1.5.0@sha256:" + "0d".repeat(32);

function parseFailures(argv: string[]): Partial<Record<EnvironmentName, string>> {
    const failures: Partial<Record<EnvironmentName, string>> = {};
    for (let i = 0; i < argv.length; i += 1) {
        const arg = argv[i]!;
        if (arg === "--promote-unverified") continue;
        const value = arg.startsWith("--fail=") ? arg.slice(7) : arg === "--fail" ? argv[++i] : undefined;
        const m = value === undefined ? null : /^(dev|staging|prod)=([a-z,]+)$/.exec(value);
        if (!m) {
            process.stderr.write(`demo: unknown argument '${arg}'; allowed: --fail ENV=MODE (e.g. --fail staging=db; modes: db, action, healthz, version), --promote-unverified, or 'down'\n`);
            process.exit(2);
        }
        failures[m[1] as EnvironmentName] = m[2]!;
    }
    return failures;
}

function down(): void {
    for (const env of ENVIRONMENTS) stopApp(path.join(LOCAL, "apps", `${env}.pid`));
    useToolchain();
    clusterDown(CLUSTER, KUBECONFIG);
}

async function main(argv: string[]): Promise<number> {
    if (argv[0] === "down") {
        down();
        return 0;
    }
    const failures = parseFailures(argv);
    const promoteUnverified = argv.includes("--promote-unverified");
    const t0 = Date.now();
    const step = (what: string) => process.stdout.write(`\n=== ${what} (${((Date.now() - t0) / 1000).toFixed(0)}s)\n`);

    step("toolchain (built once into ~/.cache/env-progression, then reused)");
    const toolEnv = useToolchain();

    step("local cluster");
    fs.mkdirSync(path.join(LOCAL, "apps"), { recursive: true });
    const cluster = clusterUp(CLUSTER, KUBECONFIG);
    process.stdout.write(`context ${cluster.context} at ${cluster.server}\n`);

    step("reference app, one per environment (pods are simulated; these are the smoke targets)");
    for (const env of ENVIRONMENTS) {
        const pidFile = path.join(LOCAL, "apps", `${env}.pid`);
        stopApp(pidFile);
        const app = await startApp({ port: PORTS[env], pidFile, logFile: path.join(LOCAL, "apps", `${env}.log`), ...(failures[env] ? { fail: failures[env] } : {}) });
        process.stdout.write(`${env}: ${app.url}${failures[env] ? `  (failing: ${failures[env]})` : ""}\n`);
    }

    const ws = workspace(LOCAL, { PATH: process.env["PATH"] ?? "", ...(toolEnv["PULUMI_HOME"] ? { PULUMI_HOME: toolEnv["PULUMI_HOME"] } : {}) });
    const secrets = localSecrets(path.join(LOCAL, "secrets.json"));
    const stacks = [];
    for (const env of ENVIRONMENTS) {
        const overrides = env === "prod" && promoteUnverified ? { ...DEMO_OVERRIDES, image: UNVERIFIED_IMAGE } : DEMO_OVERRIDES;
        stacks.push([env, await prepareStack(ws, env, { cluster, smokeBaseUrl: `http://127.0.0.1:${PORTS[env]}`, secrets: secrets[env], overrides })] as const);
    }
    // The local cluster may have been deleted (demo:down) or recreated since the last run while
    // .local/state remembers its objects: refresh first, so `up` recreates whatever is gone.
    step("pulumi refresh: align the state with the cluster");
    for (const [env, stack] of stacks) {
        const refreshed = await stack.refresh({ color: "never" });
        const gone = refreshed.summary.resourceChanges?.["delete"] ?? 0;
        process.stdout.write(`${env}: ${gone > 0 ? `${gone} resources no longer in the cluster; up recreates them` : "in step"}\n`);
    }
    step("pulumi up -s dev, then staging, then prod; each only if the one before passed its smoke checks");
    const result = await progress(stacks, (s) => process.stdout.write(s));
    if (result.failed) {
        const rest = ENVIRONMENTS.slice(ENVIRONMENTS.indexOf(result.failed.environment) + 1);
        if (promoteUnverified && result.failed.environment === "prod") {
            process.stdout.write(`\nprod refused an image staging never verified (above), before creating anything. 'npm run demo' without --promote-unverified deploys what staging verified.\n`);
            return 1;
        }
        process.stdout.write(`\n${result.failed.environment} failed${rest.length ? `: ${rest.join(" and ")} not deployed` : ""}. Fix it and run 'npm run demo' again.\n`);
        return 1;
    }
    const summary = ENVIRONMENTS.map((env) => {
        const outs = result.outputs[env] ?? {};
        const smoke = outs["smoke"] as { passedAt?: string } | undefined;
        return `${env.padEnd(8)} namespace ${String(outs["namespace"]).padEnd(12)} replicas ${String(outs["replicas"]).padEnd(3)} smoke passed at ${smoke?.passedAt ?? "?"}`;
    });

    step("what runs where");
    const deployments = kubectlJson<{ items: { metadata: { namespace: string; name: string }; status: { availableReplicas?: number }; spec: { replicas: number } }[] }>(cluster, [
        "get",
        "deployments",
        "-A",
        "-l",
        "app.kubernetes.io/part-of=env-progression",
    ]);
    for (const line of summary) process.stdout.write(`${line}\n`);
    for (const d of deployments.items) process.stdout.write(`  ${d.metadata.namespace}/${d.metadata.name}: ${d.status.availableReplicas ?? 0}/${d.spec.replicas} available (simulated pods)\n`);
    process.stdout.write(`\nkubectl --kubeconfig ${path.relative(process.cwd(), KUBECONFIG)} get ns,deploy,netpol -A   # look around\n`);
    process.stdout.write(`npm run demo:down                                          # stop apps and cluster\n`);
    process.stdout.write(`done in ${((Date.now() - t0) / 1000).toFixed(0)}s\n`);
    return 0;
}

main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
        process.stderr.write(`demo: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
        process.exitCode = 1;
    },
);
