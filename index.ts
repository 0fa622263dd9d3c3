// The program: typed config -> migration lint -> promotion check -> Environment -> stack outputs.
// Everything that can be wrong with the configuration, the target cluster, the migrations' SQL
// (where the environment enforces the lint) or the promotion is reported before any resource of
// the environment is registered. The entry is async so the promotion check can
// await what the upstream stack verified first.
import * as os from "node:os";
import * as pulumi from "./resources/pulumi";
import { Environment } from "./components/environment";
import { checkPromotion } from "./components/promotion";
import { resolveCluster } from "./config/cluster";
import { loadConfig } from "./config/load";
import { ConfigError } from "./config/schema";
import { gitIn, provenanceOf } from "./promotion/commit";
import { judgeMigrations } from "./migrate/lint";
import { loadRules, RulesError } from "./promotion/rules";

function edge() {
    let loaded;
    try {
        const config = loadConfig();
        loaded = { ...config, cluster: resolveCluster(config.config), rules: loadRules() };
    } catch (err) {
        // RunError prints the message alone: the reader needs the fix, not a stack trace.
        throw err instanceof ConfigError || err instanceof RulesError ? new pulumi.RunError(err.message) : err;
    }
    // The lint runs here, before the provider, the namespace or its policies exist: a refused
    // migration leaves the stack as it was, in `up` as in preview. A warning is the gate's to show.
    const lint = loaded.config.migration ? judgeMigrations(loaded.config.migration, loaded.config.environment) : undefined;
    if (lint?.verdict.outcome === "deny") throw new pulumi.RunError(lint.verdict.message);
    return { ...loaded, migrationLint: lint?.report };
}

export = async () => {
    const { config, secrets, checks, cluster, rules, promotionKey, promotionKeyValue, migrationLint } = edge();
    const promotion = await checkPromotion({ config, rules, key: promotionKeyValue, ...(checks ? { checks } : {}) });
    const env = new Environment(config.environment, {
        config,
        cluster,
        secrets,
        provenance: provenanceOf(process.env, gitIn(__dirname), localUser()),
        promotionKey,
        ...(checks ? { checks } : {}),
        ...(migrationLint ? { migrationLint } : {}),
    });
    return {
        environment: config.environment,
        namespace: env.namespace,
        serviceName: env.serviceName,
        serviceUrl: env.serviceUrl,
        image: config.app.image,
        replicas: config.app.replicas,
        smoke: {
            baseUrl: config.smoke.baseUrl,
            passedAt: env.smokePassedAt,
            trigger: env.verifiedTrigger,
            results: env.smokeResults,
        },
        /** What the live revision's checks verified, signed; the next environment deploys only this. */
        verified: env.verified,
        /** Every revision this environment verified and still remembers, newest (the live one) first: signed records it, or the next environment, may go back to. */
        verifiedHistory: env.verifiedHistory,
        /** Where live traffic is (live), the rollback target (previous), the candidate, and the history. */
        release: env.release,
        /** How this update was let through: checked against which record (and who produced it), or overridden (and why). */
        promotion: promotion.output,
    };
};

function localUser(): string | undefined {
    try {
        return os.userInfo().username;
    } catch {
        return process.env["USER"];
    }
}
