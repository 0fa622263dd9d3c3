// `progression rollback -s STACK [--to REVISION]`: return an environment to a revision it verified
// before, in seconds, and record it.
//   1. the fast path: scale that revision (kept warm by the live switch) to full size and point
//      the live Service at it, then wait until the Service's endpoints are its pods and the live
//      route answers;
//   2. the record: `pulumi config set rollbackTo <revision>` and `pulumi up`, so the stack's
//      outputs (release, verified) name what serves, and the next environment promotes only that.
// The stack stays held on the revision until `pulumi config rm rollbackTo` and an `up` with a
// fixed candidate.
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { appLabels } from "../components/labels";
import { kubeconfigPaths, resolveCluster } from "../config/cluster";
import { ENVIRONMENT_RULES } from "../config/environments";
import { ConfigError, PROJECT, validateConfig } from "../config/schema";
import { readProject, readStackRaw } from "../config/stackFile";
import { kubeApi } from "../kube/api";
import { REVISION_LABEL } from "../kube/labels";
import { awaitEndpoints, awaitReady, deploymentName, liveRevision, pointService, scaleRevision } from "../release/switch";
import { UsageError } from "./args";

const usage = `usage: progression rollback -s STACK [--to REVISION] [--no-record] [-C DIR]

Returns STACK's live traffic to the revision it verified before the live one (the stack output
release.previous, kept warm), or to --to REVISION of release.history while its objects remain.
Then records it: sets rollbackTo and runs pulumi up, so the outputs name what serves.

  -s, --stack STACK   the stack to roll back
  --to REVISION       a revision id from release.history (default: release.previous)
  --no-record         switch only; the next pulumi up of the stack puts its candidate back
  -C DIR              the Pulumi project directory (default: .)`;

interface ReleaseView {
    readonly live: string;
    readonly previous: string | null;
    readonly history: readonly { readonly revision: string; readonly image: string | null }[];
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/**
 * Kept as one function: the command's steps in order (arguments, stack, target revision, switch,
 * record, report), read top to bottom.
 */
export async function run(argv: string[]): Promise<number> {
    let values;
    try {
        values = parseArgs({
            args: argv,
            strict: true,
            allowPositionals: false,
            options: {
                stack: { type: "string", short: "s" },
                to: { type: "string" },
                "no-record": { type: "boolean" },
                cwd: { type: "string", short: "C" },
                help: { type: "boolean", short: "h" },
            },
        }).values;
    } catch (err) {
        throw new UsageError(`${(err as Error).message}\n\n${usage}`);
    }
    if (values.help) {
        process.stdout.write(usage + "\n");
        return 0;
    }
    const stackName = values.stack;
    if (!stackName) throw new UsageError(`-s STACK is required\n\n${usage}`);
    const workDir = path.resolve(values.cwd ?? ".");
    if (!fs.existsSync(path.join(workDir, "Pulumi.yaml"))) throw new UsageError(`no Pulumi.yaml in ${workDir}; fix: run it in the Pulumi project directory, or pass -C DIR`);

    const t0 = Date.now();
    const stack = await LocalWorkspace.selectStack({ stackName, workDir }).catch((err: unknown) => {
        throw new UsageError(`stack '${stackName}' cannot be selected (${(err as Error).message.split("\n")[0]}); fix: pulumi stack ls shows the stacks of ${workDir}`);
    });
    const release = (await stack.outputs())["release"]?.value as ReleaseView | undefined;
    if (!release) {
        process.stderr.write(`progression rollback: stack '${stackName}' has no release output yet: nothing has gone live there. Fix: pulumi up -s ${stackName}\n`);
        return 1;
    }
    const target = values.to ?? release.previous;
    if (!target) {
        process.stderr.write(`progression rollback: stack '${stackName}' has no previous verified revision (live is ${release.live}, its first). Nothing to go back to.\n`);
        return 1;
    }
    if (!release.history.some((h) => h.revision === target)) {
        process.stderr.write(
            `progression rollback: ${target} is not in stack '${stackName}'s verified history (${release.history.map((h) => h.revision).join(", ")}). Fix: --to one of those\n`,
        );
        return 1;
    }

    let config;
    try {
        const project = readProject(workDir);
        config = validateConfig(readStackRaw(stackName, undefined, project), stackName);
    } catch (err) {
        if (err instanceof ConfigError) throw new UsageError(err.message);
        throw err;
    }
    const cluster = resolveCluster(config, kubeconfigPaths(config, process.env, workDir));
    const api = kubeApi(cluster.kubeconfig, cluster.context);
    const { namespace } = config;
    const service = config.app.name;
    const selector = appLabels(config.app.name, config.environment).selector;
    const warm = Math.min(ENVIRONMENT_RULES[config.environment].warmReplicas, config.app.replicas);

    const live = await liveRevision(api, namespace, service);
    if (live === target) {
        process.stdout.write(`${stackName}: live traffic already reaches ${target}\n`);
    } else {
        await scaleRevision(api, namespace, deploymentName(selector, target), config.app.replicas).catch((err: unknown) => {
            throw new UsageError(
                `revision ${target}'s Deployment ${deploymentName(selector, target)} cannot be scaled (${(err as Error).message}); the live switch removed it. Fix: set the image and config it ran, and pulumi up -s ${stackName}`,
            );
        });
        const pods = await awaitReady(api, namespace, selector, target, warm, 60_000);
        const ready = pods.filter((p) => p.ready);
        if (ready.length === 0) {
            process.stderr.write(`progression rollback: revision ${target} has no ready pod after 60 s; live traffic stays on ${live ?? "nothing"}\n`);
            return 1;
        }
        await pointService(api, namespace, service, { ...selector, [REVISION_LABEL]: target });
        const moved = await awaitEndpoints(api, namespace, service, deploymentName(selector, target), 15_000);
        process.stdout.write(
            `${stackName}: live traffic moved from ${live ?? "nothing"} to ${target} in ${seconds(Date.now() - t0)}${moved ? "" : " (the Service's endpoints had not all moved after 15 s)"}\n`,
        );
    }
    if (values["no-record"]) {
        process.stdout.write(`not recorded: the next 'pulumi up -s ${stackName}' switches to its candidate again once that passes its checks\n`);
        return 0;
    }
    await stack.setConfig(`${PROJECT}:rollbackTo`, { value: target });
    process.stdout.write(`${stackName}: rollbackTo ${target} set; recording it with pulumi up\n`);
    const up = await stack.up({ color: "never", onOutput: (s) => process.stdout.write(s) }).then(
        () => undefined,
        (err: unknown) => err as Error,
    );
    if (up) {
        process.stderr.write(`progression rollback: live traffic is on ${target}, but pulumi up -s ${stackName} failed to record it:\n${up.message}\n`);
        return 1;
    }
    process.stdout.write(
        `${stackName}: rolled back to ${target} and recorded in ${seconds(Date.now() - t0)}. It stays there until: pulumi config rm rollbackTo -s ${stackName} && pulumi up -s ${stackName}\n`,
    );
    return 0;
}
