// What the Kubernetes provider waits for on the app's Service: its address, not the 10 s of
// unchanged Endpoints its built-in Service await insists on after every change. And how long it
// waits for the Deployment's rollout: rolloutTimeout.
import { describe, expect, it } from "vitest";
import { rolloutWait, serviceManifest, SERVICE_WAIT_FOR } from "../../components/app";
import { validateConfig } from "../../config/schema";
import { readStackConfig } from "../../config/stackFile";
import { staging } from "./configFixture";

const input = (serviceType: "ClusterIP" | "NodePort" | "LoadBalancer") => {
    const cfg = readStackConfig("staging");
    return { app: { ...cfg.app, serviceType }, namespace: cfg.namespace, environment: cfg.environment };
};

describe("the Service's readiness condition", () => {
    it.each(["ClusterIP", "NodePort"] as const)("a %s Service is ready once it has its cluster IP", (type) => {
        expect(serviceManifest(input(type)).metadata.annotations).toEqual({ [SERVICE_WAIT_FOR]: "jsonpath={.spec.clusterIP}" });
    });

    it("a LoadBalancer Service is ready once its load balancer has an address", () => {
        expect(serviceManifest(input("LoadBalancer")).metadata.annotations).toEqual({ [SERVICE_WAIT_FOR]: "jsonpath={.status.loadBalancer.ingress}" });
    });
});

describe("the Deployment's rollout wait", () => {
    it("is rolloutTimeout, for create and update alike, in whole seconds", () => {
        expect(rolloutWait(validateConfig(staging({ rolloutTimeout: "90s" }), "staging").app)).toEqual({ create: "90s", update: "90s" });
        expect(rolloutWait(validateConfig(staging({ rolloutTimeout: "10500ms" }), "staging").app)).toEqual({ create: "11s", update: "11s" });
        expect(rolloutWait(readStackConfig("prod").app)).toEqual({ create: "600s", update: "600s" });
    });
});
