// The program's dynamic resources (SmokeRun, MigrationRun, LiveSwitch, DigestKey) are run by a
// separate Node process, the SDK's dynamic provider host, which the engine's plugin
// `pulumi-resource-pulumi-nodejs` starts (the project's engine starts it only when needed: rule 4). The host
// reads a resource's provider from its `__provider` input: the text of a CommonJS module, loaded
// with require-from-string, whose `handler()` returns the provider's methods. This module writes
// that text itself, a few fixed lines, instead of having the SDK's closure serializer derive it
// from a function (which loads the TypeScript compiler and the V8 inspector into every program
// run). The providers share these rules:
//   1. create, update and diff only; never `read` or `delete`. create, update and diff run the
//      text of the program being deployed, but refresh (`read`) and destroy or removal (`delete`)
//      run the text saved in state by an earlier program, with that program's absolute paths: a
//      moved checkout, a CI runner or a colleague's machine would load a file that is not there.
//      Without them, refresh keeps the state as it is and delete just forgets the resource; what
//      such a resource leaves in the cluster lives in the environment's namespace, which the
//      stack deletes.
//   2. The text holds a path, not code: the absolute path of the logic's compiled bundle
//      (dist/provider-<name>.js, built with the program by build/compile.js), required inside each
//      method, so undici, the Kubernetes client, the engine and any secret stay out of state, and
//      the provider process loads plain JavaScript: no TypeScript loader.
//   3. The bundle must exist when a resource is registered: build/program.js builds dist/ before
//      the program runs. A component refuses to register a resource when its bundle is missing
//      (providerLogicProblem), instead of failing later in the provider process.
//   4. A diff reports no change when the new inputs equal the old ones: each is a pure function
//      of the old outputs (which mirror the inputs of the last successful run; a failed create or
//      update keeps the old inputs in state) and the new inputs. The engine's plugin for these
//      types (toolchain/langhost/dynamic) answers that case itself, without starting Node, and
//      answers Check, Read and Delete as the SDK's host does for providers that define none of
//      them. So whatever must run on every `up` is an input that changes every `up`.
// tests/smoke/provider-serialized.test.ts runs each text the way the host does.
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "../resources/pulumi";

/**
 * The compiled bundle of a provider's logic. The same path from a source file and from the program's
 * bundle: both sit one folder below the project root.
 */
export const providerBundle = (name: "smoke" | "migrate" | "switch"): string => path.join(__dirname, "..", "dist", `provider-${name}.js`);

/**
 * The provider text for the logic bundled in `bundle`: thin delegates that load it when called
 * (`require` there is the provider process's own).
 */
export function providerText(bundle: string): string {
    return [
        "// The provider's logic is compiled into the bundle named here; this text only loads it.",
        `const bundle = ${JSON.stringify(bundle)};`,
        "const load = () => require(bundle).logic;",
        "exports.handler = () => ({",
        "    create: async (inputs) => load().create(inputs),",
        "    update: async (id, olds, news) => load().update(id, olds, news),",
        "    diff: async (id, olds, news) => load().diff(id, olds, news),",
        "});",
        "",
    ].join("\n");
}

/**
 * A dynamic resource of type `pulumi-nodejs:dynamic/progression:<kind>` whose provider is `provider`,
 * a text from providerText (what pulumi.dynamic.Resource registers, minus the closure serializer).
 */
export abstract class DynamicResource extends pulumi.CustomResource {
    protected constructor(kind: string, provider: string, name: string, props: pulumi.Inputs, opts?: pulumi.CustomResourceOptions) {
        super(`pulumi-nodejs:dynamic/progression:${kind}`, name, { ...props, __provider: provider }, opts);
    }
}

/** Rule 3: the logic's bundle must exist where the serialized text will look. Returns the problem, or undefined. */
export function providerLogicProblem(bundle: string): string | undefined {
    if (fs.existsSync(bundle)) return undefined;
    return (
        `the provider's compiled logic ${bundle} does not exist, so the serialized provider could not load it. ` +
        "build/program.js (package.json main) builds it before the program runs. Fix: run the program through it " +
        "(leave Pulumi.yaml without `main`), or build once with `node -e 'require(\"./build/compile\").ensureBuilt()'`"
    );
}
