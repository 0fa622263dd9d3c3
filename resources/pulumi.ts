// The Pulumi SDK as the program uses it, each part from the module that defines it. The
// package's index (`@pulumi/pulumi`) also loads the Automation API and the closure serializer,
// which loads the TypeScript compiler: about 0.12 s of every `pulumi up`, for nothing the program
// calls. The SDK's own entry point has loaded most of these modules before the program starts,
// so importing them here costs next to nothing. Import the SDK through this module; a type-only
// import of the index is erased and costs nothing either (eslint.config.mjs enforces both).
export * from "@pulumi/pulumi/config";
export * from "@pulumi/pulumi/errors";
export * from "@pulumi/pulumi/metadata";
export * from "@pulumi/pulumi/output";
export * from "@pulumi/pulumi/resource";
export * from "@pulumi/pulumi/stackReference";
export * as log from "@pulumi/pulumi/log";

import { allConfig } from "@pulumi/pulumi/runtime/config";
import { invoke } from "@pulumi/pulumi/runtime/invoke";

/** The parts of `pulumi.runtime` the program calls. */
export const runtime = { allConfig, invoke } as const;
