// The deployments program: Pulumi Deployments for the application's stacks, as code. It runs as
// its own project (`cd deployments && pulumi up`), apart from the stacks it configures, so that
// destroying or breaking an environment never touches its delivery wiring, and the reverse.
import * as pulumi from "@pulumi/pulumi";
import { ENVIRONMENTS, ENVIRONMENT_RULES } from "../../config/environments";
import { DeploymentsConfigError, PROJECT, readDeploymentsConfig } from "./config";
import { Delivery } from "./delivery";
import { DeliveryError } from "./plan";

function edge() {
    const prefix = `${PROJECT}:`;
    const raw = Object.fromEntries(
        Object.entries(pulumi.runtime.allConfig())
            .filter(([k]) => k.startsWith(prefix))
            .map(([k, v]) => [k.slice(prefix.length), v]),
    );
    try {
        return readDeploymentsConfig(raw, pulumi.getOrganization(), new Date());
    } catch (err) {
        // The message alone: it names each problem and its fix.
        throw err instanceof DeploymentsConfigError ? new pulumi.RunError(err.message) : err;
    }
}

const config = edge();
let delivery: Delivery;
try {
    delivery = new Delivery("env-progression", {
        table: { order: ENVIRONMENTS, rules: ENVIRONMENT_RULES },
        options: config.delivery,
        ...(config.notify ? { notify: config.notify } : {}),
        keepReviewExpiry: config.expiryDefaulted,
        tokenSeconds: config.tokenSeconds,
    });
} catch (err) {
    throw err instanceof DeliveryError ? new pulumi.RunError(err.message) : err;
}

export const stacks = delivery.stacks;
export const chain = delivery.chain;
export const driftChecked = delivery.driftChecked;
