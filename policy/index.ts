// The policy pack's entry point, run by the Pulumi CLI for `--policy-pack policy`. The engine
// tells the pack which stack it previews before this file loads, so the environment, and with it
// the enforcement level (advisory in dev, mandatory in staging and prod), comes from the stack.
import { PolicyPack } from "@pulumi/policy";
import { engineContext } from "./environment";
import { PACK_NAME, packArgs } from "./pack";

new PolicyPack(PACK_NAME, packArgs(engineContext()));
