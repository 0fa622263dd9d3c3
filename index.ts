// The program: typed config -> promotion check -> Environment -> stack outputs. Everything that
// can be wrong with the configuration, the target cluster or the promotion is reported before
// any resource of the environment is registered. The entry is async so the promotion check can
// await what the upstream stack verified first.
import * as os from "node:os";
import * as pulumi from "@pulumi/pulumi";
import { Environment } from "./components/environment";
import { checkPromotion } from "./components/promotion";
import { resolveCluster } from "./config/cluster";
import { loadConfig } from "./config/load";
import { ConfigError } from "./config/schema";
import { gitIn, provenanceOf } from "./promotion/commit";
import { loadRules, RulesError } from "./promotion/rules";

function edge() {
    try {
        const loaded = loadConfig();
        return { ...loaded, cluster: resolveCluster(loaded.config), rules: loadRules() };
    } catch (err) {
        // RunError prints the message alone: the reader needs the fix, not a stack trace.
        throw err instanceof ConfigError || err instanceof RulesError ? new pulumi.RunError(err.message) : err;
    }
}

export = async () => {
    const { config, secrets, checks, cluster, rules, promotionKey, promotionKeyValue } = edge();
    const promotion = await checkPromotion({ config, rules, key: promotionKeyValue, ...(checks ? { checks } : {}) });
    const env = new Environment(config.environment, {
        config,
        cluster,
        secrets,
        provenance: provenanceOf(process.env, gitIn(__dirname), localUser()),
        promotionKey,
        ...(checks ? { checks } : {}),
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
