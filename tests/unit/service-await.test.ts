// What the Kubernetes provider waits for on the app's Service: its address, not the 10 s of
// unchanged Endpoints its built-in Service await insists on after every change.
import { describe, expect, it } from "vitest";
import { serviceManifest, SERVICE_WAIT_FOR } from "../../components/app";
import { readStackConfig } from "../../config/stackFile";

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
