// The program: typed config -> Environment -> stack outputs. Everything that can be wrong with
// the configuration or the target cluster is reported here, before any resource is registered.
import * as pulumi from "@pulumi/pulumi";
import { Environment } from "./components/environment";
import { resolveCluster } from "./config/cluster";
import { loadConfig } from "./config/load";
import { ConfigError } from "./config/schema";

function edge() {
    try {
        const loaded = loadConfig();
        return { ...loaded, cluster: resolveCluster(loaded.config) };
    } catch (err) {
        // RunError prints the message alone: the reader needs the fix, not a stack trace.
        throw err instanceof ConfigError ? new pulumi.RunError(err.message) : err;
    }
}

const { config, secrets, checks, cluster } = edge();
const env = new Environment(config.environment, { config, cluster, secrets, ...(checks ? { checks } : {}) });

export const environment = config.environment;
export const namespace = env.namespace;
export const serviceName = env.serviceName;
export const serviceUrl = env.serviceUrl;
export const image = config.app.image;
export const replicas = config.app.replicas;
export const smoke = {
    baseUrl: config.smoke.baseUrl,
    passedAt: env.smokePassedAt,
    trigger: env.verifiedTrigger,
    results: env.smokeResults,
};
