// Release: how live traffic moves between revisions. `rollbackTo` holds an environment on a
// revision of its own verified history (what `progression rollback` sets).
import { REVISION_CHARS } from "../../kube/labels";
import { type ConfigReader, PROJECT, show } from "../reader";
import type { Identity } from "./identity";

export interface ReleaseConfig {
    /** A revision of the environment's own verified history to hold live traffic on. @default - the candidate, once verified */
    readonly rollbackTo: string | undefined;
}

const REVISION = new RegExp(`^[0-9a-f]{${REVISION_CHARS}}$`);

/** Keys: rollbackTo. A group validator (see config/schema.ts). */
export function validateRelease(read: ConfigReader, _id: Identity): ReleaseConfig {
    const rollbackTo = read.string("rollbackTo")?.trim();
    if (rollbackTo !== undefined && rollbackTo !== "" && !REVISION.test(rollbackTo)) {
        read.problem(
            `${PROJECT}:rollbackTo: ${show(rollbackTo)} is not a revision id. Allowed: ${REVISION_CHARS} lowercase hex characters, as in the stack output release.history (pulumi stack output release -s ${read.stack}). ` +
                `Fix: progression rollback -s ${read.stack}, or pulumi config rm rollbackTo -s ${read.stack}`,
        );
    }
    return { rollbackTo: rollbackTo || undefined };
}
