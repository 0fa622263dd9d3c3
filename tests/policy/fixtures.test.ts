// The fixtures must judge as the engine does, or a typed policy (validateResourceOfType,
// validateStackResourcesOfType) would pass vacuously here: the same policy through runResource /
// runStack and through @pulumi/policy's own analyzer RPC handlers must agree.
import * as k8s from "@pulumi/kubernetes";
import { type ResourceValidationPolicy, type StackValidationPolicy, validateResourceOfType, validateStackResourcesOfType } from "@pulumi/policy";
import { describe, expect, it } from "vitest";
import type * as analyzerproto from "@pulumi/pulumi/proto/analyzer_pb";
import * as policyServer from "@pulumi/policy/server";
import { ENVIRONMENTS } from "../../config/environments";
import { analyzeRequest, appDeployment, appDeploymentName, isTypeOf, manifestOf, runResource, runStack, stackOf, toDiagnostics, urnOf } from "./fixtures";

const replicasOfDeployments: ResourceValidationPolicy = {
    name: "typed-deployment",
    description: "reports every Deployment's replicas",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(k8s.apps.v1.Deployment, (d, _args, report) => report(`replicas ${String(d.spec?.replicas)}`)),
};

const countServices: StackValidationPolicy = {
    name: "typed-services",
    description: "counts the Services",
    enforcementLevel: "mandatory",
    validateStack: validateStackResourcesOfType(k8s.core.v1.Service, (services, _args, report) => report(`services ${services.length}`)),
};

type Handler<R> = (call: { request: R }, cb: (err: Error | undefined, resp: analyzerproto.AnalyzeResponse | undefined) => void) => Promise<void>;
const server = policyServer as unknown as {
    makeAnalyzeRpcFun(pack: string, version: string, level: string, policies: unknown[]): Handler<analyzerproto.AnalyzeRequest>;
};

async function engineVerdict(manifest: any): Promise<string[]> {
    const fn = server.makeAnalyzeRpcFun("t", "0.0.1", "mandatory", [replicasOfDeployments]);
    const resp = await new Promise<analyzerproto.AnalyzeResponse>((resolve, reject) => {
        void fn({ request: analyzeRequest("staging", manifest) }, (err, r) => (err ? reject(err) : resolve(r!)));
    });
    // The engine puts the policy's description above each message.
    return toDiagnostics(resp).diagnostics.map((d) => d.message.split("\n").pop()!);
}

describe("policy fixtures", () => {
    it("isType follows the class's Pulumi type, as the engine's does", () => {
        expect(isTypeOf("kubernetes:apps/v1:Deployment", k8s.apps.v1.Deployment)).toBe(true);
        expect(isTypeOf("kubernetes:core/v1:Service", k8s.apps.v1.Deployment)).toBe(false);
    });

    it("run a typed resource policy on the type it names, and only there, as the engine does", async () => {
        const deployment = manifestOf("staging", "Deployment");
        const service = manifestOf("staging", "Service");
        expect((await runResource(replicasOfDeployments, deployment)).violations).toEqual(["replicas 3"]);
        expect((await runResource(replicasOfDeployments, service)).violations).toEqual([]);
        expect(await engineVerdict(deployment)).toEqual(["replicas 3"]);
        expect(await engineVerdict(service)).toEqual([]);
    });

    it("run a typed stack policy over the resources of its type", async () => {
        // The preview Service and the live one.
        expect((await runStack(countServices, stackOf("staging"))).violations).toEqual(["services 2"]);
    });

    it("name the app Deployment as the render does: the candidate revision's", () => {
        for (const env of ENVIRONMENTS) {
            const d = manifestOf(env, "Deployment");
            expect(appDeploymentName(env)).toMatch(/^web-[0-9a-f]{10}$/);
            expect(appDeploymentName(env)).toBe(d.metadata.name);
            expect(appDeployment(env)).toBe(`${d.metadata.namespace}/${d.metadata.name}`);
        }
    });

    it("register each resource of a stack under a URN of its own, as the engine requires", () => {
        for (const env of ENVIRONMENTS) {
            const urns = stackOf(env).map((r) => urnOf(r));
            expect(new Set(urns).size).toBe(urns.length);
        }
    });

    it("hand asType the props the policy reads", async () => {
        const seen: unknown[] = [];
        const policy: ResourceValidationPolicy = {
            name: "as-type",
            description: "records asType",
            enforcementLevel: "advisory",
            validateResource: (args) => {
                seen.push(args.asType(k8s.apps.v1.Deployment)?.spec?.replicas, args.asType(k8s.core.v1.Service));
            },
        };
        await runResource(policy, manifestOf("prod", "Deployment"));
        expect(seen).toEqual([50, undefined]);
    });
});
