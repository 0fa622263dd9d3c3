// One labels object per app feeds the Deployment selector, the pod template and the Service:
// selector labels stay minimal and stable (a Deployment's selector is immutable), the rest
// describe the object for people and policies.
// The label keys themselves are kube/labels.ts's.
import type { EnvironmentName } from "../config/environments";
import {
    APP_COMPONENT_LABEL,
    APP_INSTANCE_LABEL,
    APP_MANAGED_BY_LABEL,
    APP_NAME_LABEL,
    APP_PART_OF_LABEL,
    ENVIRONMENT_LABEL,
    PART_OF,
} from "../kube/labels";
import type { Labels } from "./manifestTypes";

export interface AppLabels {
    /** For `spec.selector` and the Service selector: never change these on a live app. */
    readonly selector: Labels;
    /** Everything on the objects and pod template. */
    readonly all: Labels;
}

export function appLabels(app: string, environment: EnvironmentName): AppLabels {
    const selector = { [APP_NAME_LABEL]: app, [APP_INSTANCE_LABEL]: `${app}-${environment}` };
    return {
        selector,
        all: { ...selector, ...commonLabels(environment), [APP_COMPONENT_LABEL]: "server" },
    };
}

export function commonLabels(environment: EnvironmentName): Labels {
    return {
        [ENVIRONMENT_LABEL]: environment,
        [APP_PART_OF_LABEL]: PART_OF,
        [APP_MANAGED_BY_LABEL]: "pulumi",
    };
}
